-- A day of prod.fact_vehicle_location written whole: the new partition {target}, filled
-- from dev (see dwh_pipelines.partitions.replace_date_partition).
INSERT INTO {target}
SELECT * FROM dev.fact_vehicle_location WHERE date_key = %(day_key)s
