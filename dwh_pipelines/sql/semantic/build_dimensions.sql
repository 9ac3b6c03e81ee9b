-- Build the semantic model's dev tables, step 1 of 3 (one transaction; then
-- build_tracks.sql in parallel sessions, then build_activity.sql): the updates' index, the
-- dimensions, the operating periods whose facts are rebuilt, and the per-day update counts.
-- Parameters: %(dates)s event dates rebuilt whole (their updates are all in
-- dev.int_vehicle_updates and replace prod's). Other new updates in dev are appended to
-- prod's. Facts are rebuilt per affected operating period.
-- sorts and hashes of a whole day stay in memory instead of spilling to disk
SET LOCAL work_mem = '256MB';
SET LOCAL TimeZone = 'UTC';
-- The dev tables are re-created empty by every build; dev.int_vehicle_updates (a table per
-- event date) arrives filled (rule: only updates with coordinates and a position time),
-- relayed from staging in time order.
-- tracks join positions to periods by time range and organization: time first, as the rows
-- arrive (a presorted build), the organization checked in the index. It is prod's index
-- (and these statistics prod's), so a date written whole is attached with them as it is.
CREATE INDEX ON dev.int_vehicle_updates (location_at, organization_id);
ANALYZE dev.int_vehicle_updates;

-- The updates grouped once by organization, vehicle, position day and event date: the
-- dimensions and the daily intermediate below read these groups (a few per vehicle), not
-- the updates (8 M a day), so the updates are scanned once instead of three times.
CREATE TEMP TABLE update_groups ON COMMIT DROP AS
SELECT organization_id, vehicle_id, to_char(location_at::date, 'YYYYMMDD')::integer AS date_key,
       event_date, count(*) AS updates, min(event_at) AS first_event_at
  FROM dev.int_vehicle_updates
 GROUP BY organization_id, vehicle_id, location_at::date, event_date;

-- dim_organization ------------------------------------------------------------------------
INSERT INTO dev.dim_organization
WITH seen AS (
    SELECT organization_id, first_seen_at AS at FROM prod.dim_organization
    UNION ALL SELECT organization_id, event_at FROM dev.src_lifecycle_events
    UNION ALL SELECT organization_id, event_at FROM dev.src_operating_period_events
    UNION ALL SELECT organization_id, min(first_event_at) FROM update_groups GROUP BY 1
)
SELECT md5('organization|' || organization_id)::uuid, organization_id, min(at)
  FROM seen GROUP BY organization_id;

-- dim_operating_period: latest create defines the period; a delete at/after it deletes it.
INSERT INTO dev.dim_operating_period
WITH source AS (
    SELECT * FROM dev.src_operating_period_events
),
latest_create AS (
    SELECT DISTINCT ON (organization_id, period_id)
           organization_id, period_id, period_start, period_finish, event_at AS created_at
      FROM source WHERE event = 'create'
     ORDER BY organization_id, period_id, event_at DESC, period_start, period_finish
),
latest_delete AS (
    SELECT organization_id, period_id, max(event_at) AS deleted_at
      FROM source WHERE event = 'delete' GROUP BY 1, 2
),
final AS (
    SELECT coalesce(c.organization_id, d.organization_id) AS organization_id,
           coalesce(c.period_id, d.period_id) AS period_id,
           c.period_start, c.period_finish, c.created_at,
           d.deleted_at IS NOT NULL AND (c.created_at IS NULL OR d.deleted_at >= c.created_at)
               AS is_deleted,
           d.deleted_at
      FROM latest_create c
      FULL JOIN latest_delete d USING (organization_id, period_id)
)
SELECT md5('period|' || organization_id || '|' || period_id)::uuid,
       md5('organization|' || organization_id)::uuid,
       organization_id, period_id, period_start, period_finish, created_at, is_deleted,
       CASE WHEN is_deleted THEN deleted_at END,
       created_at IS NOT NULL AND NOT is_deleted,
       extract(epoch FROM period_finish - period_start) / 60.0
  FROM final;

-- dim_vehicle (SCD 2): one version per registration, closed by the next deregister.
INSERT INTO dev.dim_vehicle
WITH lifecycle AS (
    SELECT organization_id, vehicle_id, event, event_at,
           lead(event) OVER w AS next_event, lead(event_at) OVER w AS next_at
      FROM dev.src_lifecycle_events
    WINDOW w AS (PARTITION BY organization_id, vehicle_id ORDER BY event_at, event)
),
registrations AS (
    SELECT organization_id, vehicle_id, event_at AS registered_at,
           CASE WHEN next_event = 'deregister' THEN next_at END AS deregistered_at,
           coalesce(next_at, 'infinity') AS valid_to
      FROM lifecycle WHERE event = 'register'
),
inferred AS (
    SELECT v.organization_id, v.vehicle_id
      FROM (SELECT organization_id, vehicle_id FROM prod.dim_vehicle
            UNION SELECT organization_id, vehicle_id FROM update_groups) v
     WHERE NOT EXISTS (SELECT 1 FROM registrations r
                        WHERE r.organization_id = v.organization_id
                          AND r.vehicle_id = v.vehicle_id)
),
versions AS (
    SELECT organization_id, vehicle_id, registered_at AS valid_from, valid_to,
           registered_at, deregistered_at, false AS is_inferred
      FROM registrations
    UNION ALL
    SELECT organization_id, vehicle_id, '-infinity', 'infinity', NULL, NULL, true
      FROM inferred
)
SELECT md5('vehicle|' || organization_id || '|' || vehicle_id || '|' || valid_from::text)::uuid,
       vehicle_id, md5('organization|' || organization_id)::uuid, organization_id,
       valid_from, valid_to, valid_to = 'infinity', registered_at, deregistered_at, is_inferred
  FROM versions;

-- Organizations only seen through vehicles of older dates keep their row.
INSERT INTO dev.dim_organization
SELECT DISTINCT ON (v.organization_id) md5('organization|' || v.organization_id)::uuid,
       v.organization_id, coalesce(v.registered_at, '-infinity')
  FROM dev.dim_vehicle v
 WHERE NOT EXISTS (SELECT 1 FROM dev.dim_organization o WHERE o.organization_id = v.organization_id)
 ORDER BY v.organization_id, v.registered_at;

-- Periods whose facts are recomputed whole: overlapping a date rebuilt whole (with an hour
-- of margin for positions taken just before their event time), or changed, new or gone
-- since prod.
CREATE TEMP TABLE redefined_periods ON COMMIT DROP AS
SELECT period_key FROM dev.dim_operating_period p
 WHERE EXISTS (SELECT 1 FROM unnest(%(dates)s::date[]) d
                WHERE p.period_start < d + interval '1 day 1 hour'
                  AND p.period_finish > d - interval '1 hour')
UNION
SELECT coalesce(n.period_key, o.period_key)
  FROM dev.dim_operating_period n
  FULL JOIN prod.dim_operating_period o USING (period_key)
 WHERE (n.period_start, n.period_finish, n.is_counted)
       IS DISTINCT FROM (o.period_start, o.period_finish, o.is_counted);

-- The other periods holding a new position, per vehicle (one index probe per period; OFFSET
-- 0 keeps it so, see build_tracks.sql's period_points).
CREATE TEMP TABLE new_positions ON COMMIT DROP AS
SELECT p.period_key, p.organization_id, p.period_start, p.period_finish, p.is_counted,
       u.vehicle_id, min(u.location_at) AS first_new_at
  FROM dev.dim_operating_period p
 CROSS JOIN LATERAL (
       SELECT u.vehicle_id, u.location_at FROM dev.int_vehicle_updates u
        WHERE u.organization_id = p.organization_id
          AND u.location_at >= p.period_start AND u.location_at < p.period_finish
       OFFSET 0) u
 WHERE p.period_key NOT IN (SELECT period_key FROM redefined_periods)
 GROUP BY 1, 2, 3, 4, 5, 6;

-- A counted period's published tracks are continued, not recomputed, when for each of its
-- vehicles holding a new position every new position comes after every position the pair
-- had, accepted or dropped as a GPS jump (a new position before a dropped one would have
-- that one judged again). The GPS-jump rule's state is then the pair's last accepted point
-- alone, so the continued track equals the recomputed one. A new pair must have had no
-- position in the period. The pairs' vehicle versions must stay the same too (dim_vehicle
-- may have changed), for every pair of the period.
CREATE TEMP TABLE pair_ends ON COMMIT DROP AS
SELECT n.period_key, n.vehicle_id, coalesce(f.updates, 0) AS prior_updates,
       f.distance_km, coalesce(f.gps_jumps_dropped, 0) AS gps_jumps_dropped,
       f.first_point_at, f.last_point_at, s.event_key, s.location_lat, s.location_lng,
       n.first_new_at > coalesce(f.last_point_at, '-infinity')
       AND (f.period_key IS NULL OR s.event_key IS NOT NULL)
       AND NOT EXISTS (
           SELECT 1 FROM prod.int_vehicle_updates u
            WHERE u.organization_id = n.organization_id AND u.vehicle_id = n.vehicle_id
              AND u.location_at >= CASE WHEN f.period_key IS NULL THEN n.period_start
                                        ELSE n.first_new_at END
              AND u.location_at < n.period_finish) AS continues
  FROM new_positions n
  LEFT JOIN prod.fact_vehicle_period_distance f USING (period_key, vehicle_id)
  -- the last accepted point, by its key, on the day of its time
  LEFT JOIN LATERAL (
       SELECT s.event_key, s.location_lat, s.location_lng
         FROM prod.fact_vehicle_location s
        WHERE s.period_key = f.period_key AND s.vehicle_id = f.vehicle_id
          AND s.point_no = f.updates
          AND s.date_key = to_char(f.last_point_at, 'YYYYMMDD')::integer
       OFFSET 0) s ON true
 WHERE n.is_counted;

-- The continued tracks: the pairs of the periods where every pair with a new position
-- continues and no published pair's vehicle version changed.
INSERT INTO dev.continued_pairs
WITH candidates AS (
    SELECT period_key FROM pair_ends GROUP BY period_key HAVING bool_and(continues)
),
revised AS (
    SELECT DISTINCT f.period_key
      FROM candidates c
      JOIN prod.fact_vehicle_period_distance f USING (period_key)
      LEFT JOIN LATERAL (
           SELECT v.vehicle_key FROM dev.dim_vehicle v
            WHERE v.organization_id = f.organization_id AND v.vehicle_id = f.vehicle_id
            ORDER BY (v.valid_from <= f.first_point_at) DESC, v.valid_from DESC
            LIMIT 1) v ON true
     WHERE f.vehicle_key IS DISTINCT FROM v.vehicle_key
)
SELECT e.period_key, e.vehicle_id, e.prior_updates, e.distance_km, e.gps_jumps_dropped,
       e.first_point_at, e.last_point_at, e.event_key, e.location_lat, e.location_lng
  FROM pair_ends e
  JOIN candidates USING (period_key)
 WHERE e.period_key NOT IN (SELECT period_key FROM revised);

-- Periods whose facts are replaced whole: redefined, or holding new positions that do not
-- continue their tracks (a period not counted has no track: its facts are removed).
INSERT INTO dev.affected_periods
SELECT period_key FROM redefined_periods
UNION
SELECT period_key FROM new_positions
 WHERE period_key NOT IN (SELECT period_key FROM dev.continued_pairs);

-- dim_date: every day from the first to the last event, position or period day.
INSERT INTO dev.dim_date
WITH bounds AS (
    SELECT min(d) AS lo, max(d) AS hi FROM (
        SELECT min(date) AS d FROM prod.dim_date UNION ALL SELECT max(date) FROM prod.dim_date
        UNION ALL SELECT min(location_at)::date FROM dev.int_vehicle_updates
        UNION ALL SELECT max(location_at)::date FROM dev.int_vehicle_updates
        UNION ALL SELECT min(first_event_at)::date FROM dev.src_vehicle_dates
        UNION ALL SELECT max(last_event_at)::date FROM dev.src_vehicle_dates
        UNION ALL SELECT min(period_start)::date FROM dev.dim_operating_period
        UNION ALL SELECT max(period_finish)::date FROM dev.dim_operating_period
        UNION ALL SELECT min(first_seen_at)::date FROM dev.dim_organization
                  WHERE first_seen_at > '-infinity'
    ) x
)
SELECT to_char(d, 'YYYYMMDD')::integer, d, extract(year FROM d), extract(month FROM d),
       extract(day FROM d), extract(isodow FROM d), date_trunc('month', d)::date
  FROM bounds
 CROSS JOIN LATERAL generate_series(lo, hi, interval '1 day') AS g(ts)
 CROSS JOIN LATERAL (SELECT ts::date AS d) day
 WHERE lo IS NOT NULL;

-- Daily intermediate: this build's updates counted per vehicle and day, so daily activity
-- never rescans a day of updates.
INSERT INTO dev.int_vehicle_daily_updates
SELECT organization_id, vehicle_id, date_key, event_date, updates FROM update_groups;

-- The tracks' layout: the days each counted period recomputed or continued may hold new
-- points on (its organization's position days within the period; of this build's
-- positions only, for a continued one), with an estimate of its points there (the day's
-- positioned updates, prorated by the share of the day the period covers).
-- Every point of the tracks falls on one of these days, which the sessions create tables
-- for, and the estimate splits the periods among the sessions (see
-- dwh_pipelines.semantic.build_dev).
INSERT INTO dev.track_period_days
WITH daily AS (
    SELECT organization_id, date_key, sum(updates) AS updates,
           sum(updates) FILTER (WHERE new) AS new_updates
      FROM (SELECT organization_id, date_key, updates, false AS new
              FROM prod.int_vehicle_daily_updates
             WHERE event_date <> ALL(%(dates)s::date[])
            UNION ALL
            SELECT organization_id, date_key, updates, true
              FROM dev.int_vehicle_daily_updates) u
     GROUP BY 1, 2
),
periods AS (
    SELECT p.period_key, p.organization_id, p.period_start, p.period_finish,
           to_char(p.period_start, 'YYYYMMDD')::integer AS first_day,
           to_char(p.period_finish, 'YYYYMMDD')::integer AS last_day,
           a.period_key IS NULL AS continued
      FROM dev.dim_operating_period p
      LEFT JOIN dev.affected_periods a USING (period_key)
     WHERE p.is_counted
       AND (a.period_key IS NOT NULL
            OR p.period_key IN (SELECT period_key FROM dev.continued_pairs))
),
-- a continued track takes only its new positions: those days, and those updates
days AS (
    SELECT p.period_key, d.date_key,
           CASE WHEN p.continued THEN d.new_updates ELSE d.updates END AS updates,
           p.period_start, p.period_finish,
           to_date(d.date_key::text, 'YYYYMMDD')::timestamptz AS day
      FROM periods p
      JOIN daily d ON d.organization_id = p.organization_id
                  AND d.date_key BETWEEN p.first_day AND p.last_day
     WHERE NOT p.continued OR d.new_updates IS NOT NULL
)
SELECT period_key, date_key,
       updates * greatest(0, date_part('epoch', least(period_finish, day + interval '1 day')
                                                - greatest(period_start, day))) / 86400
  FROM days;
