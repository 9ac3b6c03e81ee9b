-- Scratch copies of the raw partitions being rebuilt (refilled on every build).
CREATE SCHEMA IF NOT EXISTS dev;
DROP TABLE IF EXISTS dev.src_vehicle_events;
CREATE UNLOGGED TABLE dev.src_vehicle_events (
    event text, organization_id text, event_at timestamptz, vehicle_id text,
    location_lat double precision, location_lng double precision, location_at timestamptz,
    source_key text, source_line integer, ingestion_run_id text, batch_id text, event_date date
);
COMMENT ON TABLE dev.src_vehicle_events IS 'Scratch: raw_db vehicle rows of the partitions being rebuilt.';
DROP TABLE IF EXISTS dev.src_operating_period_events;
CREATE UNLOGGED TABLE dev.src_operating_period_events (
    event text, organization_id text, event_at timestamptz, period_id text,
    period_start timestamptz, period_finish timestamptz,
    source_key text, source_line integer, ingestion_run_id text, batch_id text, event_date date
);
COMMENT ON TABLE dev.src_operating_period_events IS 'Scratch: raw_db period rows of the partitions being rebuilt.';
COMMENT ON COLUMN dev.src_vehicle_events.event IS 'As raw.vehicle_events.event.';
COMMENT ON COLUMN dev.src_vehicle_events.organization_id IS 'As raw.vehicle_events.organization_id.';
COMMENT ON COLUMN dev.src_vehicle_events.event_at IS 'As raw.vehicle_events.event_at.';
COMMENT ON COLUMN dev.src_vehicle_events.vehicle_id IS 'As raw.vehicle_events.vehicle_id.';
COMMENT ON COLUMN dev.src_vehicle_events.location_lat IS 'As raw.vehicle_events.location_lat.';
COMMENT ON COLUMN dev.src_vehicle_events.location_lng IS 'As raw.vehicle_events.location_lng.';
COMMENT ON COLUMN dev.src_vehicle_events.location_at IS 'As raw.vehicle_events.location_at.';
COMMENT ON COLUMN dev.src_vehicle_events.source_key IS 'As raw.vehicle_events.source_key.';
COMMENT ON COLUMN dev.src_vehicle_events.source_line IS 'As raw.vehicle_events.source_line.';
COMMENT ON COLUMN dev.src_vehicle_events.ingestion_run_id IS 'As raw.vehicle_events.ingestion_run_id.';
COMMENT ON COLUMN dev.src_vehicle_events.event_date IS 'As raw.vehicle_events.event_date.';
COMMENT ON COLUMN dev.src_operating_period_events.event IS 'As raw.operating_period_events.event.';
COMMENT ON COLUMN dev.src_operating_period_events.organization_id IS 'As raw.operating_period_events.organization_id.';
COMMENT ON COLUMN dev.src_operating_period_events.event_at IS 'As raw.operating_period_events.event_at.';
COMMENT ON COLUMN dev.src_operating_period_events.period_id IS 'As raw.operating_period_events.period_id.';
COMMENT ON COLUMN dev.src_operating_period_events.period_start IS 'As raw.operating_period_events.period_start.';
COMMENT ON COLUMN dev.src_operating_period_events.period_finish IS 'As raw.operating_period_events.period_finish.';
COMMENT ON COLUMN dev.src_operating_period_events.source_key IS 'As raw.operating_period_events.source_key.';
COMMENT ON COLUMN dev.src_operating_period_events.source_line IS 'As raw.operating_period_events.source_line.';
COMMENT ON COLUMN dev.src_operating_period_events.ingestion_run_id IS 'As raw.operating_period_events.ingestion_run_id.';
COMMENT ON COLUMN dev.src_operating_period_events.event_date IS 'As raw.operating_period_events.event_date.';
COMMENT ON COLUMN dev.src_vehicle_events.batch_id IS 'As raw.vehicle_events.batch_id (earlier batches keep their copy of a duplicate).';
COMMENT ON COLUMN dev.src_operating_period_events.batch_id IS 'As raw.operating_period_events.batch_id.';
