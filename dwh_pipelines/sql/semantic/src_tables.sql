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
COMMENT ON COLUMN dev.src_vehicle_events.event_key IS 'As staging prod.stg_vehicle_events.event_key.';
COMMENT ON COLUMN dev.src_vehicle_events.event IS 'As staging prod.stg_vehicle_events.event.';
COMMENT ON COLUMN dev.src_vehicle_events.organization_id IS 'As staging prod.stg_vehicle_events.organization_id.';
COMMENT ON COLUMN dev.src_vehicle_events.vehicle_id IS 'As staging prod.stg_vehicle_events.vehicle_id.';
COMMENT ON COLUMN dev.src_vehicle_events.event_at IS 'As staging prod.stg_vehicle_events.event_at.';
COMMENT ON COLUMN dev.src_vehicle_events.location_lat IS 'As staging prod.stg_vehicle_events.location_lat.';
COMMENT ON COLUMN dev.src_vehicle_events.location_lng IS 'As staging prod.stg_vehicle_events.location_lng.';
COMMENT ON COLUMN dev.src_vehicle_events.location_at IS 'As staging prod.stg_vehicle_events.location_at.';
COMMENT ON COLUMN dev.src_vehicle_events.has_location IS 'As staging prod.stg_vehicle_events.has_location.';
COMMENT ON COLUMN dev.src_vehicle_events.event_date IS 'As staging prod.stg_vehicle_events.event_date.';
COMMENT ON COLUMN dev.src_lifecycle_events.event IS 'register or deregister.';
COMMENT ON COLUMN dev.src_lifecycle_events.organization_id IS 'Client owning the vehicle.';
COMMENT ON COLUMN dev.src_lifecycle_events.vehicle_id IS 'Vehicle id.';
COMMENT ON COLUMN dev.src_lifecycle_events.event_at IS 'Event time (UTC).';
COMMENT ON COLUMN dev.src_operating_period_events.event IS 'create or delete.';
COMMENT ON COLUMN dev.src_operating_period_events.organization_id IS 'Client the period belongs to.';
COMMENT ON COLUMN dev.src_operating_period_events.period_id IS 'Operating period id.';
COMMENT ON COLUMN dev.src_operating_period_events.event_at IS 'Event time (UTC).';
COMMENT ON COLUMN dev.src_operating_period_events.period_start IS 'Period start (UTC).';
COMMENT ON COLUMN dev.src_operating_period_events.period_finish IS 'Period finish (UTC).';
