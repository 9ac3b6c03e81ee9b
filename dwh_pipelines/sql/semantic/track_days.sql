-- Days the tracks' sessions create tables for (dwh_pipelines.partitions.create_part_days):
-- every day a rebuilt track may put a point on, and every day whose published points of an
-- affected period go (written whole, such a day is swapped in, perhaps empty).
SELECT date_key FROM dev.track_period_days
UNION
SELECT f.date_key
  FROM prod.int_period_daily_distance f
  JOIN dev.affected_periods USING (period_key)
 ORDER BY 1
