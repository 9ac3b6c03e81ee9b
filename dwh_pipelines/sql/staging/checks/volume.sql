-- Volume: a rebuilt date with less than half the usual rows per date (of other published dates).
WITH usual AS (
    SELECT avg(n) AS avg_rows FROM (
        SELECT event_date, count(*) AS n FROM prod.stg_vehicle_events
         WHERE event_date <> ALL (SELECT DISTINCT event_date FROM dev.stg_vehicle_events)
         GROUP BY event_date ORDER BY event_date DESC LIMIT 7) recent
),
-- a date this load appends to is judged with the rows it already has in prod
rebuilt AS (
    SELECT event_date,
           count(*) + CASE WHEN event_date = ANY(%(append_dates)s)
                           THEN (SELECT count(*) FROM prod.stg_vehicle_events p
                                  WHERE p.event_date = d.event_date) ELSE 0 END AS n
      FROM dev.stg_vehicle_events d GROUP BY event_date
)
SELECT r.event_date, r.n AS rows, round(u.avg_rows) AS usual_rows
  FROM rebuilt r CROSS JOIN usual u
 WHERE u.avg_rows IS NOT NULL AND r.n < 0.5 * u.avg_rows
   AND r.event_date < (SELECT max(event_date) FROM dev.stg_vehicle_events)
