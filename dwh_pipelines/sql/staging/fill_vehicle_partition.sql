-- A date's published vehicle events, written whole (rebuilt, or published for the first
-- time): the new partition {target} of prod.stg_vehicle_events, filled from dev (see
-- dwh_pipelines.partitions.replace_date_partition).
INSERT INTO {target}
SELECT * FROM dev.stg_vehicle_events WHERE event_date = %(day)s
