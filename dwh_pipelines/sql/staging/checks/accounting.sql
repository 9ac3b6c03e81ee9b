-- Every raw row is a staged row, a removed duplicate or a rejected row: nothing lost.
WITH src AS (
    SELECT event_date, count(*) AS n FROM dev.src_vehicle_events GROUP BY 1
    UNION ALL SELECT event_date, count(*) FROM dev.src_operating_period_events GROUP BY 1
),
outs AS (
    SELECT event_date, count(*) AS n FROM dev.stg_vehicle_events GROUP BY 1
    UNION ALL SELECT event_date, count(*) FROM dev.stg_operating_period_events GROUP BY 1
    UNION ALL SELECT event_date, count(*) FROM dev.stg_removed_duplicates GROUP BY 1
    UNION ALL SELECT event_date, count(*) FROM dev.stg_rejected_events GROUP BY 1
),
s AS (SELECT event_date, sum(n) AS rows_in FROM src GROUP BY 1),
o AS (SELECT event_date, sum(n) AS accounted FROM outs GROUP BY 1)
SELECT event_date, coalesce(s.rows_in, 0) AS rows_in, coalesce(o.accounted, 0) AS accounted
  FROM s FULL JOIN o USING (event_date)
 WHERE coalesce(s.rows_in, 0) <> coalesce(o.accounted, 0)
