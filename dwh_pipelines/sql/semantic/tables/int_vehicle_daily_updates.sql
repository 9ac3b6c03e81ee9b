-- semantic model table int_vehicle_daily_updates, created in schema {schema}.
-- Additive per load, so daily activity is recounted from a few rows, not from a day of updates.
CREATE TABLE IF NOT EXISTS {schema}.int_vehicle_daily_updates (
    organization_id text    NOT NULL,
    vehicle_id      text    NOT NULL,
    date_key        integer NOT NULL,
    event_date      date    NOT NULL,
    updates         bigint  NOT NULL,
    PRIMARY KEY (organization_id, vehicle_id, date_key, event_date)
);
COMMENT ON TABLE {schema}.int_vehicle_daily_updates IS 'Intermediate: positioned updates per vehicle, position day and event date; a load adds its counts, a date rebuilt whole replaces its rows.';
COMMENT ON COLUMN {schema}.int_vehicle_daily_updates.organization_id IS 'Client owning the vehicle.';
COMMENT ON COLUMN {schema}.int_vehicle_daily_updates.vehicle_id IS 'Vehicle id.';
COMMENT ON COLUMN {schema}.int_vehicle_daily_updates.date_key IS 'Day (UTC) the positions were taken, yyyymmdd.';
COMMENT ON COLUMN {schema}.int_vehicle_daily_updates.event_date IS 'Partition: UTC date of the updates'' event time.';
COMMENT ON COLUMN {schema}.int_vehicle_daily_updates.updates IS 'Positioned updates.';
