-- The run the portal reports on: this run if it already wrote audit rows, else the latest
-- run that reached the dwh layer. Report steps are left out: a report does not time itself.
WITH runs AS (
    SELECT run_id, min(started_at) AS started_at, max(finished_at) AS finished_at,
           sum(duration_s)::float8 AS task_seconds, count(*)::int AS tasks,
           (count(*) FILTER (WHERE status = 'failed'))::int AS failed_tasks,
           bool_or(stage = 'dwh.build') AS reached_dwh
      FROM ops.task_runs
     WHERE stage NOT LIKE 'reports.%%'
     GROUP BY run_id
)
SELECT run_id, started_at, finished_at,
       extract(epoch FROM finished_at - started_at)::float8 AS wall_seconds,
       task_seconds, tasks, failed_tasks
  FROM runs
 WHERE run_id = %(run_id)s OR reached_dwh
 ORDER BY (run_id = %(run_id)s) DESC, started_at DESC
 LIMIT 1
