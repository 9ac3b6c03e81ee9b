-- The tracks' pairs of this session's part (after track_points.sql), into dev.{pairs}, and
-- the key and statistics of its dev.{points}.
-- Parameters: %(low)s, %(high)s the part's periods (see build_tracks.sql).
-- Per recomputed pair: the accepted points summed in track order (a serial scan of this
-- session's day tables, in day order, each in the order written: a parallel one would add
-- the floats in another order), and the dropped jumps as the pair's points that were not
-- accepted. Only the recomputed periods' pairs have points in period_points, so the join to
-- seen leaves the continued ones out.
-- Per continued pair: the published distance, then the new steps added in track order (an
-- ordered aggregate: the same additions in the same order as summing the recomputed
-- track); the accepted points and dropped jumps so far plus the new ones.
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
continued AS (
    SELECT * FROM dev.continued_pairs
     WHERE (%(low)s::uuid IS NULL OR period_key >= %(low)s::uuid)
       AND (%(high)s::uuid IS NULL OR period_key < %(high)s::uuid)
),
continued_steps AS (
    SELECT period_key, vehicle_id, prior_distance_km AS step_km, prior_updates AS point_no,
           last_point_at AS location_at, true AS prior
      FROM continued WHERE prior_updates > 0
    UNION ALL
    SELECT q.period_key, q.vehicle_id, q.step_km, q.point_no, q.location_at, false
      FROM dev.{points} q JOIN continued c USING (period_key, vehicle_id)
),
continued_accepted AS (
    SELECT period_key, vehicle_id, sum(step_km ORDER BY point_no) AS distance_km,
           count(*) FILTER (WHERE NOT prior) AS updates,
           min(location_at) FILTER (WHERE NOT prior) AS first_new_at,
           max(location_at) AS last_point_at
      FROM continued_steps GROUP BY 1, 2
),
continued_seen AS (
    SELECT period_key, vehicle_id, count(*) AS points
      FROM continued_points WHERE NOT is_seed GROUP BY 1, 2
),
pairs AS (
    SELECT a.period_key, a.vehicle_id, a.distance_km, a.updates,
           s.points - a.updates AS gps_jumps_dropped, a.first_point_at, a.last_point_at
      FROM accepted a
      JOIN seen s USING (period_key, vehicle_id)
    UNION ALL
    SELECT c.period_key, c.vehicle_id, a.distance_km, c.prior_updates + a.updates,
           c.prior_gps_jumps_dropped + s.points - a.updates,
           coalesce(c.first_point_at, a.first_new_at), a.last_point_at
      FROM continued c
      JOIN continued_accepted a USING (period_key, vehicle_id)
      JOIN continued_seen s USING (period_key, vehicle_id)
)
SELECT p.period_key, d.organization_key, v.vehicle_key, d.organization_id, d.period_id,
       p.vehicle_id, p.distance_km, p.updates, p.gps_jumps_dropped, p.first_point_at,
       p.last_point_at
  FROM pairs p
  JOIN dev.dim_operating_period d USING (period_key)
  CROSS JOIN LATERAL (
      SELECT vehicle_key FROM dev.dim_vehicle v
       WHERE v.organization_id = d.organization_id AND v.vehicle_id = p.vehicle_id
       ORDER BY (v.valid_from <= p.first_point_at) DESC, v.valid_from DESC
       LIMIT 1) v;

-- prod's key, built here on this part's day tables while the other sessions build theirs,
-- and their statistics, so publish attaches a day written whole as it is (see
-- dwh_pipelines.partitions.adopt_part_days)
ALTER TABLE dev.{points} ADD PRIMARY KEY (period_key, vehicle_id, point_no, date_key);
ANALYZE dev.{points};
