-- The tracks' points of one source, {source} (build_tracks.sql: the recomputed periods'
-- points, or the continued tracks' new points), into this session's dev.{points} (a table
-- per day, created by the session).
-- Parameters: %(max_kmh)s the GPS-jump speed limit.
-- Tracks: each pair's points ordered by position time with the event key as tie-breaker, in
-- one sort that every window below shares (per period: the source's lateral join yields
-- periods one by one, so each period's points are sorted in memory), so no intermediate is
-- materialised. Each point's step is measured from the point before it.
-- Rule (GPS jumps): a point implying more than max_kmh from the last accepted point is
-- dropped, and the track goes on from that last accepted point. Up to the first step that
-- breaks the limit (first_jump), every point is accepted, its step is final and it is
-- numbered in order (set-based, no arrays; a track without a jump ends there). From the
-- point before first_jump (accepted, so the rule's state is that point alone) the
-- sequential rules.gps_track aggregate runs (FILTER), which accepts or drops each point and
-- numbers the accepted ones from 1 there, so point_no adds first_jump - 2. point_no numbers
-- the accepted points, which are written in track order.
-- A continued track starts at its seed, the last accepted point published (numbered
-- prior_updates, not written again): its new points are numbered on from it, and its first
-- new point's step is measured from it, as when the whole track is recomputed.
INSERT INTO dev.{points}
WITH
-- the haversine and epoch of rules.gps_track_step, written out the same way so both give
-- equal floats (date_part: the epoch as a double, as the numeric extract() rounds to it),
-- computed on the window's rows (lag() of the same window is evaluated once), so no step is
-- computed twice and the rows keep the window's order for the windows below
steps AS (
    SELECT period_key, organization_key, vehicle_id, event_key,
           location_at, location_lat, location_lng, prior_updates, is_seed,
           row_number() OVER w AS seq,
           CASE WHEN lag(location_at) OVER w IS NULL THEN 0 ELSE 2 * 6371.0088 * asin(least(1.0, sqrt(
               sin(radians(location_lat - lag(location_lat) OVER w) / 2) ^ 2
               + cos(radians(lag(location_lat) OVER w)) * cos(radians(location_lat))
                 * sin(radians(location_lng - lag(location_lng) OVER w) / 2) ^ 2))) END AS step_km,
           CASE WHEN lag(location_at) OVER w IS NULL THEN 0
                ELSE date_part('epoch', location_at)
                     - date_part('epoch', lag(location_at) OVER w) END AS step_s
      FROM {source}
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
       CASE WHEN seq >= first_jump THEN track[7]::integer + first_jump - 2 ELSE seq END
           + greatest(prior_updates - 1, 0),
       location_at, location_lat, location_lng,
       CASE WHEN seq >= first_jump THEN track[5] ELSE step_km END,
       CASE WHEN seq >= first_jump THEN track[6] ELSE step_s END
  FROM judged
 WHERE NOT is_seed AND (first_jump IS NULL OR seq < first_jump OR track[4] = 1);

