-- Build the semantic model's dev tables. Parameters: %(dates)s event dates rebuilt whole
-- (their updates are all in dev.int_vehicle_updates and replace prod's), %(kept_dates)s
-- prod's other dates of updates, %(max_kmh)s the GPS-jump speed limit. Other new updates
-- in dev are appended to prod's. Facts are rebuilt per affected operating period.
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

-- Every positioned update after this build: published ones (but of dates rebuilt whole:
-- %(kept_dates)s are prod's other dates, listed so that the partitions of the rebuilt ones
-- are pruned, not scanned and filtered) + this build's.
CREATE OR REPLACE TEMP VIEW all_updates AS
SELECT * FROM prod.int_vehicle_updates WHERE event_date = ANY(%(kept_dates)s::date[])
UNION ALL
SELECT * FROM dev.int_vehicle_updates;

-- dim_organization ------------------------------------------------------------------------
INSERT INTO dev.dim_organization
WITH seen AS (
    SELECT organization_id, first_seen_at AS at FROM prod.dim_organization
    UNION ALL SELECT organization_id, event_at FROM dev.src_lifecycle_events
    UNION ALL SELECT organization_id, event_at FROM dev.src_operating_period_events
    UNION ALL SELECT organization_id, min(event_at) FROM dev.int_vehicle_updates GROUP BY 1
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
            UNION SELECT organization_id, vehicle_id FROM dev.int_vehicle_updates) v
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

-- Periods whose facts are replaced: overlapping a date rebuilt whole (with an hour of
-- margin for positions taken just before their event time), holding a new position, or
-- changed, new or gone since prod.
INSERT INTO dev.affected_periods
SELECT period_key FROM dev.dim_operating_period p
 WHERE EXISTS (SELECT 1 FROM unnest(%(dates)s::date[]) d
                WHERE p.period_start < d + interval '1 day 1 hour'
                  AND p.period_finish > d - interval '1 hour')
    OR EXISTS (SELECT 1 FROM dev.int_vehicle_updates u
                WHERE u.organization_id = p.organization_id
                  AND u.location_at >= p.period_start AND u.location_at < p.period_finish)
UNION
SELECT coalesce(n.period_key, o.period_key)
  FROM dev.dim_operating_period n
  FULL JOIN prod.dim_operating_period o USING (period_key)
 WHERE (n.period_start, n.period_finish, n.is_counted)
       IS DISTINCT FROM (o.period_start, o.period_finish, o.is_counted);

-- Points of the tracks: every positioned update in each counted, affected period of its
-- organization (start <= location_at < finish). OFFSET 0 keeps the lateral subquery a
-- per-period index range scan: flattened, the planner may pick (as it did on a full day) a
-- hash join on the organization alone that tests every position against every period of
-- its organization (229 M comparisons for 8 M positions) and sorts the result on disk.
CREATE OR REPLACE TEMP VIEW period_points AS
SELECT p.period_key, p.organization_key, p.organization_id, p.period_id,
       u.vehicle_id, u.event_key, u.location_at, u.location_lat, u.location_lng
  FROM dev.dim_operating_period p
  JOIN dev.affected_periods a USING (period_key)
 CROSS JOIN LATERAL (
       SELECT * FROM all_updates u
        WHERE u.organization_id = p.organization_id
          AND u.location_at >= p.period_start AND u.location_at < p.period_finish
       OFFSET 0) u
 WHERE p.is_counted;

-- Tracks: each pair's points ordered by position time with the event key as tie-breaker, in
-- one sort that every window below shares (per period: the lateral join above yields periods
-- one by one, so each period's points are sorted in memory), so no intermediate is
-- materialised. Each point's step is measured from the point before it.
-- Rule (GPS jumps): a point implying more than max_kmh from the last accepted point is
-- dropped, and the track goes on from that last accepted point. Up to the first step that
-- breaks the limit (first_jump), every point is accepted, its step is final and it is
-- numbered in order (set-based, no arrays; a track without a jump ends there). From the
-- point before first_jump (accepted, so the rule's state is that point alone) the
-- sequential rules.gps_track aggregate runs (FILTER), which accepts or drops each point and
-- numbers the accepted ones from 1 there, so point_no adds first_jump - 2. point_no numbers
-- the accepted points, which are written in track order.
INSERT INTO dev.fact_vehicle_location
WITH
-- the haversine and epoch of rules.gps_track_step, written out the same way so both give
-- equal floats (date_part: the epoch as a double, as the numeric extract() rounds to it),
-- computed on the window's rows (lag() of the same window is evaluated once), so no step is
-- computed twice and the rows keep the window's order for the windows below
steps AS (
    SELECT period_key, organization_key, vehicle_id, event_key,
           location_at, location_lat, location_lng,
           row_number() OVER w AS seq,
           CASE WHEN lag(location_at) OVER w IS NULL THEN 0 ELSE 2 * 6371.0088 * asin(least(1.0, sqrt(
               sin(radians(location_lat - lag(location_lat) OVER w) / 2) ^ 2
               + cos(radians(lag(location_lat) OVER w)) * cos(radians(location_lat))
                 * sin(radians(location_lng - lag(location_lng) OVER w) / 2) ^ 2))) END AS step_km,
           CASE WHEN lag(location_at) OVER w IS NULL THEN 0
                ELSE date_part('epoch', location_at)
                     - date_part('epoch', lag(location_at) OVER w) END AS step_s
      FROM period_points
    WINDOW w AS (PARTITION BY period_key, vehicle_id ORDER BY location_at, event_key)
),
flagged AS (
    SELECT steps.*,
           min(seq) FILTER (WHERE (step_s > 0
                                   AND step_km / step_s * 3600.0 > %(max_kmh)s::double precision)
                                  OR (step_s <= 0 AND step_km > 0))
               OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS first_jump
      FROM steps
    WINDOW w AS (PARTITION BY period_key, vehicle_id ORDER BY location_at, event_key)
),
judged AS (
    SELECT flagged.*,
           rules.gps_track(location_lat, location_lng, location_at,
                           %(max_kmh)s::double precision) FILTER (WHERE seq >= first_jump - 1)
               OVER w AS track
      FROM flagged
    WINDOW w AS (PARTITION BY period_key, vehicle_id ORDER BY location_at, event_key
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT period_key, organization_key, to_char(location_at, 'YYYYMMDD')::integer, vehicle_id,
       event_key,
       CASE WHEN seq >= first_jump THEN track[7]::integer + first_jump - 2 ELSE seq END,
       location_at, location_lat, location_lng,
       CASE WHEN seq >= first_jump THEN track[5] ELSE step_km END,
       CASE WHEN seq >= first_jump THEN track[6] ELSE step_s END
  FROM judged
 WHERE first_jump IS NULL OR seq < first_jump OR track[4] = 1;

-- Per pair: the accepted points summed in track order (a serial scan of the table written
-- above: a parallel one would add the floats in another order; so for the sums below too),
-- and the dropped jumps as the pair's points that were not accepted.
SET LOCAL max_parallel_workers_per_gather = 0;
INSERT INTO dev.fact_vehicle_period_distance
WITH accepted AS (
    SELECT period_key, vehicle_id, sum(step_km) AS distance_km, count(*) AS updates,
           min(location_at) AS first_point_at, max(location_at) AS last_point_at
      FROM dev.fact_vehicle_location
     GROUP BY period_key, vehicle_id
),
seen AS (
    SELECT period_key, vehicle_id, count(*) AS points FROM period_points GROUP BY 1, 2
),
pairs AS (
    SELECT p.period_key, p.organization_key, p.organization_id, p.period_id, a.vehicle_id,
           a.distance_km, a.updates, s.points - a.updates AS gps_jumps_dropped,
           a.first_point_at, a.last_point_at
      FROM accepted a
      JOIN seen s USING (period_key, vehicle_id)
      JOIN dev.dim_operating_period p USING (period_key)
)
SELECT p.period_key, p.organization_key, v.vehicle_key, p.organization_id, p.period_id,
       p.vehicle_id, p.distance_km, p.updates, p.gps_jumps_dropped, p.first_point_at,
       p.last_point_at
  FROM pairs p
  CROSS JOIN LATERAL (
      SELECT vehicle_key FROM dev.dim_vehicle v
       WHERE v.organization_id = p.organization_id AND v.vehicle_id = p.vehicle_id
       ORDER BY (v.valid_from <= p.first_point_at) DESC, v.valid_from DESC
       LIMIT 1) v;

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

-- Daily intermediates: this build's updates counted per vehicle and day, and the recomputed
-- facts summed per day, so daily activity never rescans a day of updates or points.
-- (the day formatted once per group, not once per update)
INSERT INTO dev.int_vehicle_daily_updates
SELECT organization_id, vehicle_id, to_char(location_at::date, 'YYYYMMDD')::integer,
       event_date, count(*)
  FROM dev.int_vehicle_updates
 GROUP BY organization_id, vehicle_id, location_at::date, event_date;

INSERT INTO dev.int_period_daily_distance
SELECT period_key, vehicle_id, date_key, organization_key, sum(step_km), count(*)
  FROM dev.fact_vehicle_location GROUP BY 1, 2, 3, 4;

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
               AND f.date_key IN (SELECT date_key FROM dev.rebuilt_activity_dates)) s
     GROUP BY 1, 2
)
SELECT md5('organization|' || a.organization_id)::uuid, a.date_key, a.organization_id, a.day,
       a.active_vehicles, a.updates, coalesce(k.km, 0)
  FROM activity a
  LEFT JOIN km k ON k.organization_key = md5('organization|' || a.organization_id)::uuid
                AND k.date_key = a.date_key;

ANALYZE dev.fact_vehicle_location;
ANALYZE dev.fact_vehicle_period_distance;
