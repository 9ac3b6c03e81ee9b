-- semantic model table int_vehicle_updates, created in schema {schema}.
-- event_key is unique already (staging's primary key); read by organization and time only,
-- so a random-uuid index would only slow the load down. Partitioned by event date
-- (partitions in prod_partitions): a date written whole is swapped in (see
-- dwh_pipelines.partitions).
CREATE TABLE IF NOT EXISTS {schema}.int_vehicle_updates (
    event_key       uuid             NOT NULL,
    organization_id text             NOT NULL,
    vehicle_id      text             NOT NULL,
    location_lat    double precision NOT NULL,
    location_lng    double precision NOT NULL,
    location_at     timestamptz      NOT NULL,
    event_at        timestamptz      NOT NULL,
    event_date      date             NOT NULL
) PARTITION BY RANGE (event_date);
-- Time first: the rows arrive in time order, so a day's index is built without sorting, and
-- a period's positions are one time range with the organization checked in the index. The
-- dev build makes the same index on its per-day tables, which publish attaches as they are.
DROP INDEX IF EXISTS {schema}.int_vehicle_updates_org_at;
-- (guarded: CREATE INDEX IF NOT EXISTS on a partitioned table locks every partition first)
DO $$
BEGIN
    IF to_regclass('{schema}.int_vehicle_updates_at_org') IS NULL THEN
        CREATE INDEX int_vehicle_updates_at_org ON {schema}.int_vehicle_updates
            (location_at, organization_id);
    END IF;
END $$;
COMMENT ON TABLE {schema}.int_vehicle_updates IS 'Intermediate: staged vehicle updates that have coordinates and a position time (the only ones that can count): a load appends its new updates, a date rebuilt whole is replaced.';
COMMENT ON COLUMN {schema}.int_vehicle_updates.event_key IS 'Staging surrogate key of the update (unique: staging primary key).';
COMMENT ON COLUMN {schema}.int_vehicle_updates.organization_id IS 'Client owning the vehicle.';
COMMENT ON COLUMN {schema}.int_vehicle_updates.vehicle_id IS 'Vehicle id.';
COMMENT ON COLUMN {schema}.int_vehicle_updates.location_lat IS 'Latitude, WGS84 degrees.';
COMMENT ON COLUMN {schema}.int_vehicle_updates.location_lng IS 'Longitude, WGS84 degrees.';
COMMENT ON COLUMN {schema}.int_vehicle_updates.location_at IS 'Time (UTC) the position was taken; orders the track and places it in periods.';
COMMENT ON COLUMN {schema}.int_vehicle_updates.event_at IS 'Event time (UTC).';
COMMENT ON COLUMN {schema}.int_vehicle_updates.event_date IS 'Partition: UTC date of event_at.';
