-- Build the semantic model's dev tables, step 2 of 3: the tracks and their pair distances,
-- in several sessions at once (dwh_pipelines.semantic.build_dev), each on the operating
-- periods of its part: the periods from %(low)s to before %(high)s (NULL: open). A window
-- function runs on one core, so the sessions use every core. This file, in the session's
-- transaction, sets it up and names the tracks' two sources: the recomputed periods' points
-- (period_points) and the continued tracks' new points (continued_points); then
-- track_points.sql runs once for each, and track_pairs.sql sums the pairs.
-- Parameters: %(kept_dates)s prod's dates of updates not rebuilt.
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

-- Points of the recomputed tracks: every positioned update in each counted, affected period
-- of its organization (start <= location_at < finish). OFFSET 0 keeps the lateral subquery a
-- per-period index range scan: flattened, the planner may pick (as it did on a full day) a
-- hash join on the organization alone that tests every position against every period of
-- its organization (229 M comparisons for 8 M positions) and sorts the result on disk.
CREATE OR REPLACE TEMP VIEW period_points AS
SELECT p.period_key, p.organization_key, p.organization_id, p.period_id,
       u.vehicle_id, u.event_key, u.location_at, u.location_lat, u.location_lng,
       0 AS prior_updates, false AS is_seed
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


-- Points of the continued tracks (dev.continued_pairs): each pair's last accepted point
-- published (is_seed: the GPS-jump rule's whole state, and the step before the first new
-- point), then its new positions, which all come after it.
CREATE OR REPLACE TEMP VIEW continued_points AS
SELECT p.period_key, p.organization_key, p.organization_id, p.period_id,
       c.vehicle_id, c.last_event_key AS event_key, c.last_point_at AS location_at,
       c.last_lat AS location_lat, c.last_lng AS location_lng, c.prior_updates,
       true AS is_seed
  FROM dev.continued_pairs c
  JOIN dev.dim_operating_period p USING (period_key)
 WHERE c.prior_updates > 0
   AND (%(low)s::uuid IS NULL OR p.period_key >= %(low)s::uuid)
   AND (%(high)s::uuid IS NULL OR p.period_key < %(high)s::uuid)
UNION ALL
SELECT p.period_key, p.organization_key, p.organization_id, p.period_id,
       u.vehicle_id, u.event_key, u.location_at, u.location_lat, u.location_lng,
       c.prior_updates, false
  FROM dev.dim_operating_period p
 CROSS JOIN LATERAL (
       SELECT * FROM dev.int_vehicle_updates u
        WHERE u.organization_id = p.organization_id
          AND u.location_at >= p.period_start AND u.location_at < p.period_finish
       OFFSET 0) u
  JOIN dev.continued_pairs c ON c.period_key = p.period_key AND c.vehicle_id = u.vehicle_id
 WHERE p.period_key IN (SELECT period_key FROM dev.continued_pairs)
   AND (%(low)s::uuid IS NULL OR p.period_key >= %(low)s::uuid)
   AND (%(high)s::uuid IS NULL OR p.period_key < %(high)s::uuid);
