-- Volume: a rebuilt date with less than half the usual staged rows per date (of the 7
-- latest other published dates). Published dates are measured by prod.load_log (the rows
-- each load staged since the date was last replaced whole), not counted, so the check
-- reads this load's rows and a few log rows however long the history, and a 15-minute
-- load appending to a date does not count the whole date again.
WITH published AS (
    SELECT l.event_date, sum(l.rows) AS n
      FROM prod.load_log l
     WHERE l.load_seq >= coalesce((SELECT max(r.load_seq) FROM prod.load_log r
                                    WHERE r.event_date = l.event_date AND r.mode = 'replace'), 0)
     GROUP BY l.event_date
),
staged AS (
    SELECT event_date, count(*) AS n FROM dev.stg_vehicle_events GROUP BY 1
    UNION ALL
    SELECT event_date, count(*) FROM dev.stg_operating_period_events GROUP BY 1
),
built AS (
    SELECT event_date, sum(n) AS n FROM staged GROUP BY event_date
),
usual AS (
    SELECT avg(n) AS avg_rows FROM (
        SELECT n FROM published
         WHERE event_date NOT IN (SELECT event_date FROM built)
         ORDER BY event_date DESC LIMIT 7) recent
),
-- a date this load appends to is judged with the rows it already has in prod
rebuilt AS (
    SELECT b.event_date,
           b.n + CASE WHEN b.event_date = ANY(%(append_dates)s) THEN coalesce(p.n, 0)
                      ELSE 0 END AS n
      FROM built b
      LEFT JOIN published p USING (event_date)
)
SELECT r.event_date, r.n AS rows, round(u.avg_rows) AS usual_rows
  FROM rebuilt r CROSS JOIN usual u
 WHERE u.avg_rows IS NOT NULL AND r.n < 0.5 * u.avg_rows
   AND r.event_date < (SELECT max(event_date) FROM built)
