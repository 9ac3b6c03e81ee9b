-- Build the semantic model's dev tables, step 3 of 3: the recomputed facts summed per day,
-- and the client activity of every day they or the updates touch.
-- Parameters: %(dates)s event dates rebuilt whole.
SET LOCAL work_mem = '256MB';
SET LOCAL TimeZone = 'UTC';
-- serial scans of the points, read in the order written (see track_points.sql), so the
-- sums below add the same floats in the same order on every run
SET LOCAL max_parallel_workers_per_gather = 0;

-- Daily intermediate: the recomputed facts summed per period, vehicle and day, so daily
-- activity never rescans a day of points.
INSERT INTO dev.int_period_daily_distance
SELECT period_key, vehicle_id, date_key, organization_key, sum(step_km), count(*)
  FROM dev.fact_vehicle_location GROUP BY 1, 2, 3, 4;
-- A continued track's day already published (the day of its last accepted point) goes on
-- from the published sum: the new steps added to it in track order, as when the day is
-- summed whole, and the points added up.
UPDATE dev.int_period_daily_distance d
   SET km = s.km, points = d.points + s.prior_points
  FROM (SELECT o.period_key, o.vehicle_id, o.date_key, o.points AS prior_points,
               (SELECT sum(x.km ORDER BY x.point_no)
                  FROM (SELECT o.km, 0 AS point_no
                        UNION ALL
                        SELECT f.step_km, f.point_no FROM dev.fact_vehicle_location f
                         WHERE f.period_key = o.period_key AND f.vehicle_id = o.vehicle_id
                           AND f.date_key = o.date_key) x) AS km
          FROM prod.int_period_daily_distance o
          JOIN dev.continued_pairs c USING (period_key, vehicle_id)) s
 WHERE (d.period_key, d.vehicle_id, d.date_key) = (s.period_key, s.vehicle_id, s.date_key);

-- Client activity for every day touched by new or removed updates or affected periods.
INSERT INTO dev.rebuilt_activity_dates
SELECT date_key FROM dev.int_vehicle_daily_updates
UNION
SELECT date_key FROM prod.int_vehicle_daily_updates WHERE event_date = ANY(%(dates)s)
UNION
SELECT date_key FROM dev.int_period_daily_distance
UNION
SELECT f.date_key FROM prod.int_period_daily_distance f JOIN dev.affected_periods USING (period_key);

INSERT INTO dev.fact_client_daily_activity
WITH days AS (
    SELECT date_key, to_date(date_key::text, 'YYYYMMDD') AS day FROM dev.rebuilt_activity_dates
),
vehicle_days AS (
    SELECT organization_id, vehicle_id, date_key, updates FROM prod.int_vehicle_daily_updates
     WHERE event_date <> ALL(%(dates)s)
       AND date_key IN (SELECT date_key FROM dev.rebuilt_activity_dates)
    UNION ALL
    SELECT organization_id, vehicle_id, date_key, updates FROM dev.int_vehicle_daily_updates
),
activity AS (
    SELECT v.organization_id, d.date_key, d.day,
           count(DISTINCT v.vehicle_id) AS active_vehicles, sum(v.updates) AS updates
      FROM vehicle_days v JOIN days d USING (date_key)
     GROUP BY 1, 2, 3
),
km AS (
    SELECT organization_key, date_key, sum(km) AS km
      FROM (SELECT organization_key, date_key, km FROM dev.int_period_daily_distance
            UNION ALL
            SELECT f.organization_key, f.date_key, f.km FROM prod.int_period_daily_distance f
             WHERE f.period_key NOT IN (SELECT period_key FROM dev.affected_periods)
               AND f.date_key IN (SELECT date_key FROM dev.rebuilt_activity_dates)
               -- a continued track's day published and summed on above
               AND NOT EXISTS (SELECT 1 FROM dev.int_period_daily_distance n
                                WHERE (n.period_key, n.vehicle_id, n.date_key)
                                      = (f.period_key, f.vehicle_id, f.date_key))) s
     GROUP BY 1, 2
)
SELECT md5('organization|' || a.organization_id)::uuid, a.date_key, a.organization_id, a.day,
       a.active_vehicles, a.updates, coalesce(k.km, 0)
  FROM activity a
  LEFT JOIN km k ON k.organization_key = md5('organization|' || a.organization_id)::uuid
                AND k.date_key = a.date_key;

-- the sessions analysed their parts and day tables (track_pairs.sql): ONLY takes the
-- statistics of the whole table, from a sample of them
ANALYZE ONLY dev.fact_vehicle_location;
ANALYZE dev.fact_vehicle_period_distance;
