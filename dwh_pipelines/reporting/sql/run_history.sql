-- Task runs of the most recent pipeline runs, oldest run first.
WITH recent AS (
    SELECT run_id, min(started_at) AS run_start
      FROM ops.task_runs
     GROUP BY run_id
     ORDER BY run_start DESC
     LIMIT %(runs)s
)
SELECT t.run_id, r.run_start, t.stage, t.status, t.started_at, t.finished_at,
       t.duration_s, t.rows_in, t.rows_out, t.rows_rejected, t.error
  FROM ops.task_runs t
  JOIN recent r USING (run_id)
 ORDER BY r.run_start, t.started_at, t.id
