-- A partition where more than a fifth of the rows break a rule is a broken feed: block it.
WITH rows_in AS (
    SELECT event_date, count(*) AS n FROM dev.src_vehicle_events GROUP BY event_date
    UNION ALL
    SELECT event_date, count(*) FROM dev.src_operating_period_events GROUP BY event_date
),
totals AS (SELECT event_date, sum(n) AS rows_in FROM rows_in GROUP BY event_date),
rejected AS (SELECT event_date, count(*) AS rejected FROM dev.stg_rejected_events GROUP BY event_date)
SELECT t.event_date, t.rows_in, r.rejected, round(r.rejected::numeric / t.rows_in, 3) AS ratio
  FROM totals t JOIN rejected r USING (event_date)
 WHERE r.rejected > 0.2 * t.rows_in
