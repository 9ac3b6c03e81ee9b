-- Build the semantic model's dev tables, step 2 of 3: the tracks and their pair distances,
-- in several sessions at once (dwh_pipelines.semantic.build_dev), each on the operating
-- periods of its part: dev.fact_vehicle_location and dev.fact_vehicle_period_distance are
-- split by range of period_key, and this session writes their tables {points} (a table
-- per day, created by the session) and {pairs}: the periods from %(low)s to before
-- %(high)s (NULL: open). A window function runs on one core, so the sessions use every
-- core.
-- Parameters: %(kept_dates)s prod's dates of updates not rebuilt, %(max_kmh)s the GPS-jump
-- speed limit.
SET LOCAL work_mem = '256MB';
SET LOCAL TimeZone = 'UTC';
-- each session builds its part's key: one sort of about half a day of points in memory
SET LOCAL maintenance_work_mem = '512MB';

-- Every positioned update after this build: published ones (but of dates rebuilt whole:
-- %(kept_dates)s are prod's other dates, listed so that the partitions of the rebuilt ones
-- are pruned, not scanned and filtered) + this build's.
CREATE OR REPLACE TEMP VIEW all_updates AS
SELECT * FROM prod.int_vehicle_updates WHERE event_date = ANY(%(kept_dates)s::date[])
UNION ALL
SELECT * FROM dev.int_vehicle_updates;

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
 WHERE p.is_counted
   AND (%(low)s::uuid IS NULL OR p.period_key >= %(low)s::uuid)
   AND (%(high)s::uuid IS NULL OR p.period_key < %(high)s::uuid);

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
INSERT INTO dev.{points}
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

-- Per pair: the accepted points summed in track order (a serial scan of this session's
-- day tables, in day order, each in the order written above: a parallel one would add the
-- floats in another order), and the dropped jumps as the pair's points that were not
-- accepted.
SET LOCAL max_parallel_workers_per_gather = 0;
INSERT INTO dev.{pairs}
WITH accepted AS (
    SELECT period_key, vehicle_id, sum(step_km) AS distance_km, count(*) AS updates,
           min(location_at) AS first_point_at, max(location_at) AS last_point_at
      FROM dev.{points}
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

-- prod's key, built here on this part's day tables while the other sessions build theirs,
-- and their statistics, so publish attaches a day written whole as it is (see
-- dwh_pipelines.partitions.adopt_part_days)
ALTER TABLE dev.{points} ADD PRIMARY KEY (period_key, vehicle_id, point_no, date_key);
ANALYZE dev.{points};
