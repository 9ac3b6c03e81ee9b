-- An event date of prod.int_vehicle_updates written whole (rebuilt, or published for the
-- first time): the new partition {target}, filled from dev, whose rows arrived in time order
-- (see dwh_pipelines.partitions.replace_date_partition).
INSERT INTO {target}
SELECT * FROM dev.int_vehicle_updates WHERE event_date = %(day)s
