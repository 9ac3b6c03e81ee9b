-- Days of prod.fact_vehicle_location this build touches (new points, or old points of an
-- affected period), each with whether it is written whole: every published point of the
-- day belongs to an affected period. Whole days' partitions are swapped in from dev; the
-- other touched days' affected rows are deleted and their new rows inserted through the
-- parent, and only those days' partitions are searched. Read from the per-day intermediate,
-- which holds a row per period, vehicle and day of the fact (never a scan of the points).
WITH touched AS (
    SELECT date_key FROM dev.int_period_daily_distance
    UNION
    SELECT f.date_key
      FROM prod.int_period_daily_distance f
      JOIN dev.affected_periods USING (period_key)
)
SELECT t.date_key,
       NOT EXISTS (
           SELECT 1 FROM prod.int_period_daily_distance f
            WHERE f.date_key = t.date_key
              AND NOT EXISTS (SELECT 1 FROM dev.affected_periods a
                               WHERE a.period_key = f.period_key)) AS whole
  FROM touched t
 ORDER BY 1
