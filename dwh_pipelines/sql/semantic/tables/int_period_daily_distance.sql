-- semantic model table int_period_daily_distance, created in schema {schema}.
-- Facts summed by day, so daily km is re-added from a few rows, not from a day of points.
CREATE TABLE IF NOT EXISTS {schema}.int_period_daily_distance (
    period_key       uuid             NOT NULL,
    vehicle_id       text             NOT NULL,
    date_key         integer          NOT NULL,
    organization_key uuid             NOT NULL,
    km               double precision NOT NULL,
    points           bigint           NOT NULL,
    PRIMARY KEY (period_key, vehicle_id, date_key)
);
COMMENT ON TABLE {schema}.int_period_daily_distance IS 'Intermediate: fact_vehicle_location summed per (period, vehicle, day); replaced with the facts of the periods a build recomputes.';
COMMENT ON COLUMN {schema}.int_period_daily_distance.period_key IS 'Operating period.';
COMMENT ON COLUMN {schema}.int_period_daily_distance.vehicle_id IS 'Vehicle id.';
COMMENT ON COLUMN {schema}.int_period_daily_distance.date_key IS 'Day (UTC) of the points, yyyymmdd.';
COMMENT ON COLUMN {schema}.int_period_daily_distance.organization_key IS 'Organization.';
COMMENT ON COLUMN {schema}.int_period_daily_distance.km IS 'Sum of the accepted steps that day.';
COMMENT ON COLUMN {schema}.int_period_daily_distance.points IS 'Accepted points that day.';
