-- Where the tracks' sessions split the periods (dwh_pipelines.semantic.build_dev): the
-- affected counted periods in key order, cut into %(parts)s runs of about equal estimated
-- points (dev.track_period_days). Returns the first period key of every run but the
-- first, in order: a run that a long period fills alone is skipped, so there may be fewer.
WITH periods AS (
    SELECT period_key, sum(points) AS points FROM dev.track_period_days GROUP BY 1
),
running AS (
    SELECT period_key,
           sum(points) OVER (ORDER BY period_key) - points AS before,
           sum(points) OVER () AS total
      FROM periods
),
runs AS (
    SELECT period_key, floor(before * %(parts)s / total)::integer AS run
      FROM running
     WHERE total > 0
)
SELECT DISTINCT ON (run) period_key
  FROM runs
 WHERE run > 0
 ORDER BY run, period_key
