-- semantic model table fact_vehicle_location, created in schema {schema}.
-- One row per point: its references to the dimensions are not declared as foreign keys,
-- whose per-row check would cost more than building the table; the blocking orphan_facts
-- check audits them before every publish. Partitioned by day (date_key, partitions in
-- prod_partitions): a day whose every point is rebuilt is swapped in, itself partitioned
-- by period_key as the build's parallel sessions split the periods (see
-- dwh_pipelines.partitions). The key holds the partition columns, as PostgreSQL requires;
-- point_no numbers a pair's points across days, so (period, vehicle, point_no) stays unique.
CREATE TABLE IF NOT EXISTS {schema}.fact_vehicle_location (
    period_key       uuid             NOT NULL,
    organization_key uuid             NOT NULL,
    date_key         integer          NOT NULL,
    vehicle_id       text             NOT NULL,
    event_key        uuid             NOT NULL,
    point_no         integer          NOT NULL,
    location_at      timestamptz      NOT NULL,
    location_lat     double precision NOT NULL,
    location_lng     double precision NOT NULL,
    step_km          double precision NOT NULL,
    step_seconds     double precision NOT NULL,
    PRIMARY KEY (period_key, vehicle_id, point_no, date_key)
) PARTITION BY RANGE (date_key);
-- Read by period only (the key's first column: publish deletes a recomputed period's points).
-- An (organization, time) index had no reader and cost a day's publish a second sort
-- (about 4.5 s for a full day); time-range questions go to dwh_db's marts.
DROP INDEX IF EXISTS {schema}.fact_vehicle_location_org_at;
COMMENT ON TABLE {schema}.fact_vehicle_location IS 'Each accepted vehicle update within each counted operating period of its organization (grain: period x vehicle x point), with the step from the previous accepted point of the same period. GPS jumps are not here.';
COMMENT ON COLUMN {schema}.fact_vehicle_location.period_key IS 'Counted operating period the point falls in (start <= location_at < finish); many points per period. References dim_operating_period (checked by orphan_facts).';
COMMENT ON COLUMN {schema}.fact_vehicle_location.organization_key IS 'Organization of the vehicle and period. References dim_organization (checked by orphan_facts).';
COMMENT ON COLUMN {schema}.fact_vehicle_location.date_key IS 'UTC date of location_at. References dim_date (checked by orphan_facts).';
COMMENT ON COLUMN {schema}.fact_vehicle_location.vehicle_id IS 'Vehicle id (see dim_vehicle for its history).';
COMMENT ON COLUMN {schema}.fact_vehicle_location.event_key IS 'Staging key of the update.';
COMMENT ON COLUMN {schema}.fact_vehicle_location.point_no IS '1-based position of the accepted point in the vehicle''s track within the period.';
COMMENT ON COLUMN {schema}.fact_vehicle_location.location_at IS 'Position time (UTC).';
COMMENT ON COLUMN {schema}.fact_vehicle_location.location_lat IS 'Latitude, WGS84 degrees.';
COMMENT ON COLUMN {schema}.fact_vehicle_location.location_lng IS 'Longitude, WGS84 degrees.';
COMMENT ON COLUMN {schema}.fact_vehicle_location.step_km IS 'Haversine km from the previous accepted point in the same period (0 for the first).';
COMMENT ON COLUMN {schema}.fact_vehicle_location.step_seconds IS 'Seconds since the previous accepted point (0 for the first).';
