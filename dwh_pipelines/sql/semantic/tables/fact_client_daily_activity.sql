-- semantic model table fact_client_daily_activity, created in schema {schema}.
CREATE TABLE IF NOT EXISTS {schema}.fact_client_daily_activity (
    organization_key uuid             NOT NULL REFERENCES {schema}.dim_organization DEFERRABLE INITIALLY DEFERRED,
    date_key         integer          NOT NULL REFERENCES {schema}.dim_date DEFERRABLE INITIALLY DEFERRED,
    organization_id  text             NOT NULL,
    date             date             NOT NULL,
    active_vehicles  integer          NOT NULL,
    updates          bigint           NOT NULL,
    km_in_periods    double precision NOT NULL,
    PRIMARY KEY (organization_key, date_key)
);
COMMENT ON TABLE {schema}.fact_client_daily_activity IS 'Per organization and UTC day: vehicles sending updates, updates with a position, and km travelled inside counted operating periods.';
COMMENT ON COLUMN {schema}.fact_client_daily_activity.organization_key IS 'Organization.';
COMMENT ON COLUMN {schema}.fact_client_daily_activity.date_key IS 'Day (UTC).';
COMMENT ON COLUMN {schema}.fact_client_daily_activity.organization_id IS 'Organization id (degenerate).';
COMMENT ON COLUMN {schema}.fact_client_daily_activity.date IS 'Day (UTC of location_at).';
COMMENT ON COLUMN {schema}.fact_client_daily_activity.active_vehicles IS 'Distinct vehicles with at least one positioned update that day.';
COMMENT ON COLUMN {schema}.fact_client_daily_activity.updates IS 'Positioned updates that day.';
COMMENT ON COLUMN {schema}.fact_client_daily_activity.km_in_periods IS 'Sum of accepted steps inside counted periods that day (a step in two overlapping periods counts in both).';
