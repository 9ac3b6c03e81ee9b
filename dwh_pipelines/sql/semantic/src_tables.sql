-- Scratch inputs from staging_db prod (refilled on every build).
CREATE SCHEMA IF NOT EXISTS dev;
DROP TABLE IF EXISTS dev.src_vehicle_events, dev.src_lifecycle_events, dev.src_operating_period_events;
CREATE UNLOGGED TABLE dev.src_vehicle_events (
    event_key uuid, event text, organization_id text, vehicle_id text, event_at timestamptz,
    location_lat double precision, location_lng double precision, location_at timestamptz,
    has_location boolean, event_date date
);
COMMENT ON TABLE dev.src_vehicle_events IS 'Scratch: staged vehicle events of the event dates being rebuilt.';
CREATE UNLOGGED TABLE dev.src_lifecycle_events (
    event text, organization_id text, vehicle_id text, event_at timestamptz
);
COMMENT ON TABLE dev.src_lifecycle_events IS 'Scratch: every staged register/deregister event (all dates; small).';
CREATE UNLOGGED TABLE dev.src_operating_period_events (
    event text, organization_id text, period_id text, event_at timestamptz,
    period_start timestamptz, period_finish timestamptz
);
COMMENT ON TABLE dev.src_operating_period_events IS 'Scratch: every staged operating-period event (all dates; small).';
DROP TABLE IF EXISTS dev.affected_periods, dev.rebuilt_activity_dates;
CREATE TABLE dev.affected_periods (period_key uuid PRIMARY KEY);
COMMENT ON TABLE dev.affected_periods IS 'Periods whose facts this build replaces (overlapping rebuilt dates, or changed).';
COMMENT ON COLUMN dev.affected_periods.period_key IS 'Operating period key.';
CREATE TABLE dev.rebuilt_activity_dates (date_key integer PRIMARY KEY);
COMMENT ON TABLE dev.rebuilt_activity_dates IS 'Days whose client activity this build replaces.';
COMMENT ON COLUMN dev.rebuilt_activity_dates.date_key IS 'Day, yyyymmdd.';
