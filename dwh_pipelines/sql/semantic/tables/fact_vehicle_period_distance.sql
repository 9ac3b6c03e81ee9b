-- semantic model table fact_vehicle_period_distance, created in schema {schema}.
CREATE TABLE IF NOT EXISTS {schema}.fact_vehicle_period_distance (
    period_key       uuid             NOT NULL REFERENCES {schema}.dim_operating_period DEFERRABLE INITIALLY DEFERRED,
    organization_key uuid             NOT NULL REFERENCES {schema}.dim_organization DEFERRABLE INITIALLY DEFERRED,
    vehicle_key      uuid             NOT NULL REFERENCES {schema}.dim_vehicle DEFERRABLE INITIALLY DEFERRED,
    organization_id  text             NOT NULL,
    period_id        text             NOT NULL,
    vehicle_id       text             NOT NULL,
    distance_km      double precision NOT NULL,
    updates          integer          NOT NULL,
    gps_jumps_dropped integer         NOT NULL,
    first_point_at   timestamptz      NOT NULL,
    last_point_at    timestamptz      NOT NULL,
    PRIMARY KEY (period_key, vehicle_id)
);
COMMENT ON TABLE {schema}.fact_vehicle_period_distance IS 'Distance travelled by each vehicle in each counted operating period (grain: organization x period x vehicle). A vehicle with one point counts 0 km.';
COMMENT ON COLUMN {schema}.fact_vehicle_period_distance.period_key IS 'Counted operating period (one row per vehicle seen in it).';
COMMENT ON COLUMN {schema}.fact_vehicle_period_distance.organization_key IS 'Organization.';
COMMENT ON COLUMN {schema}.fact_vehicle_period_distance.vehicle_key IS 'Vehicle version valid at the first point.';
COMMENT ON COLUMN {schema}.fact_vehicle_period_distance.organization_id IS 'Organization id (degenerate).';
COMMENT ON COLUMN {schema}.fact_vehicle_period_distance.period_id IS 'Operating period id (degenerate).';
COMMENT ON COLUMN {schema}.fact_vehicle_period_distance.vehicle_id IS 'Vehicle id (degenerate).';
COMMENT ON COLUMN {schema}.fact_vehicle_period_distance.distance_km IS 'Sum of haversine steps between consecutive accepted points, km.';
COMMENT ON COLUMN {schema}.fact_vehicle_period_distance.updates IS 'Accepted points.';
COMMENT ON COLUMN {schema}.fact_vehicle_period_distance.gps_jumps_dropped IS 'Points dropped because the implied speed exceeded the maximum.';
COMMENT ON COLUMN {schema}.fact_vehicle_period_distance.first_point_at IS 'First accepted point time (UTC).';
COMMENT ON COLUMN {schema}.fact_vehicle_period_distance.last_point_at IS 'Last accepted point time (UTC).';
