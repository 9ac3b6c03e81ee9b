-- Scratch inputs from staging_db prod (refilled on every build).
CREATE SCHEMA IF NOT EXISTS dev;
DROP TABLE IF EXISTS dev.src_vehicle_events, dev.src_vehicle_dates, dev.src_lifecycle_events,
    dev.src_operating_period_events;
CREATE UNLOGGED TABLE dev.src_vehicle_dates (
    event_date date, vehicle_events bigint, first_event_at timestamptz, last_event_at timestamptz
);
COMMENT ON TABLE dev.src_vehicle_dates IS 'Scratch: per event date being rebuilt, the staged vehicle events (count and time range); the positioned updates themselves go straight to dev.int_vehicle_updates.';
CREATE UNLOGGED TABLE dev.src_lifecycle_events (
    event text, organization_id text, vehicle_id text, event_at timestamptz
);
COMMENT ON TABLE dev.src_lifecycle_events IS 'Scratch: every staged register/deregister event (all dates; small).';
CREATE UNLOGGED TABLE dev.src_operating_period_events (
    event text, organization_id text, period_id text, event_at timestamptz,
    period_start timestamptz, period_finish timestamptz
);
COMMENT ON COLUMN dev.src_vehicle_dates.event_date IS 'Event date being rebuilt.';
COMMENT ON COLUMN dev.src_vehicle_dates.vehicle_events IS 'Staged vehicle events of the date (all types).';
COMMENT ON COLUMN dev.src_vehicle_dates.first_event_at IS 'Earliest event time of the date.';
COMMENT ON COLUMN dev.src_vehicle_dates.last_event_at IS 'Latest event time of the date.';
COMMENT ON TABLE dev.src_operating_period_events IS 'Scratch: every staged operating-period event (all dates; small).';
DROP TABLE IF EXISTS dev.affected_periods, dev.continued_pairs, dev.rebuilt_activity_dates,
    dev.track_period_days;
CREATE TABLE dev.affected_periods (period_key uuid PRIMARY KEY);
COMMENT ON TABLE dev.affected_periods IS 'Periods whose facts this build recomputes whole (overlapping rebuilt dates, changed, or holding new positions their published tracks cannot be continued with).';
COMMENT ON COLUMN dev.affected_periods.period_key IS 'Operating period key.';
CREATE TABLE dev.continued_pairs (
    period_key uuid, vehicle_id text, prior_updates integer NOT NULL,
    prior_distance_km double precision, prior_gps_jumps_dropped integer NOT NULL,
    first_point_at timestamptz, last_point_at timestamptz, last_event_key uuid,
    last_lat double precision, last_lng double precision,
    PRIMARY KEY (period_key, vehicle_id)
);
COMMENT ON TABLE dev.continued_pairs IS 'Tracks this build continues instead of recomputing: every (period, vehicle) holding a new position in a period whose new positions all come after every position it had, with the published track''s end (its last accepted point is the GPS-jump rule''s whole state).';
COMMENT ON COLUMN dev.continued_pairs.period_key IS 'Operating period key.';
COMMENT ON COLUMN dev.continued_pairs.vehicle_id IS 'Vehicle id.';
COMMENT ON COLUMN dev.continued_pairs.prior_updates IS 'Accepted points published (0: the pair is new, its track starts here).';
COMMENT ON COLUMN dev.continued_pairs.prior_distance_km IS 'Distance published, km (the new steps are added to it in track order).';
COMMENT ON COLUMN dev.continued_pairs.prior_gps_jumps_dropped IS 'GPS jumps dropped so far.';
COMMENT ON COLUMN dev.continued_pairs.first_point_at IS 'First accepted point time published.';
COMMENT ON COLUMN dev.continued_pairs.last_point_at IS 'Last accepted point time published: the track goes on from it.';
COMMENT ON COLUMN dev.continued_pairs.last_event_key IS 'Staging key of the last accepted point.';
COMMENT ON COLUMN dev.continued_pairs.last_lat IS 'Latitude of the last accepted point.';
COMMENT ON COLUMN dev.continued_pairs.last_lng IS 'Longitude of the last accepted point.';
CREATE TABLE dev.rebuilt_activity_dates (date_key integer PRIMARY KEY);
COMMENT ON TABLE dev.rebuilt_activity_dates IS 'Days whose client activity this build replaces.';
COMMENT ON COLUMN dev.rebuilt_activity_dates.date_key IS 'Day, yyyymmdd.';
CREATE TABLE dev.track_period_days (
    period_key uuid, date_key integer, points double precision, PRIMARY KEY (period_key, date_key)
);
COMMENT ON TABLE dev.track_period_days IS 'Layout of the tracks being rebuilt: the days each affected counted period may hold points on, and an estimate of those points (its organization''s positioned updates of the day, prorated by the share of the day the period covers).';
COMMENT ON COLUMN dev.track_period_days.period_key IS 'Operating period key.';
COMMENT ON COLUMN dev.track_period_days.date_key IS 'Day, yyyymmdd.';
COMMENT ON COLUMN dev.track_period_days.points IS 'Estimated points of the period on the day.';
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
