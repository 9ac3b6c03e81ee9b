-- semantic model table dim_operating_period, created in schema {schema}.
CREATE TABLE IF NOT EXISTS {schema}.dim_operating_period (
    period_key       uuid        PRIMARY KEY,
    organization_key uuid        NOT NULL REFERENCES {schema}.dim_organization DEFERRABLE INITIALLY DEFERRED,
    organization_id  text        NOT NULL,
    period_id        text        NOT NULL,
    period_start     timestamptz,
    period_finish    timestamptz,
    created_at       timestamptz,
    is_deleted       boolean     NOT NULL,
    deleted_at       timestamptz,
    is_counted       boolean     NOT NULL,
    duration_minutes double precision,
    UNIQUE (organization_id, period_id)
);
COMMENT ON TABLE {schema}.dim_operating_period IS 'Operating periods of each organization; deleted periods are kept with is_deleted and never counted. Many periods per organization.';
COMMENT ON COLUMN {schema}.dim_operating_period.period_key IS 'Surrogate key (hash of organization and period id).';
COMMENT ON COLUMN {schema}.dim_operating_period.organization_key IS 'Owning organization (many periods to one organization).';
COMMENT ON COLUMN {schema}.dim_operating_period.organization_id IS 'Owning organization id.';
COMMENT ON COLUMN {schema}.dim_operating_period.period_id IS 'Operating period id from the feed.';
COMMENT ON COLUMN {schema}.dim_operating_period.period_start IS 'Start (UTC), inclusive, from the latest create event.';
COMMENT ON COLUMN {schema}.dim_operating_period.period_finish IS 'Finish (UTC), exclusive, from the latest create event.';
COMMENT ON COLUMN {schema}.dim_operating_period.created_at IS 'Time of the latest create event; null if only a delete was seen.';
COMMENT ON COLUMN {schema}.dim_operating_period.is_deleted IS 'True when a delete event came at or after the latest create.';
COMMENT ON COLUMN {schema}.dim_operating_period.deleted_at IS 'Time of that delete event.';
COMMENT ON COLUMN {schema}.dim_operating_period.is_counted IS 'Business rule: the period counts only if created and not deleted.';
COMMENT ON COLUMN {schema}.dim_operating_period.duration_minutes IS 'finish - start in minutes.';
