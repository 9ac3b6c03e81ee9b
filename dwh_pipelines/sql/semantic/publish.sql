-- Publish the semantic model: replace affected periods' facts and rebuilt activity days,
-- and append the continued tracks' new points and the new updates, in the caller's single
-- transaction (the dimensions follow, publish_dimension.sql). The two per-point tables are
-- partitioned by day: the days written whole (whole_update_dates, whole_location_days) are
-- swapped in afterwards (dwh_pipelines.semantic.publish), so only the other days' rows
-- (partial_location_days) are deleted and inserted here, and only their partitions
-- analysed.
-- sorts and hashes of a whole day stay in memory instead of spilling to disk
SET LOCAL work_mem = '256MB';
SET CONSTRAINTS ALL DEFERRED;
-- only the partitions of the touched days not written whole are searched (the affected
-- periods' points are every point of the whole days: about 1.5 s to visit for a full day)
DELETE FROM prod.fact_vehicle_location
 WHERE period_key IN (SELECT period_key FROM dev.affected_periods)
   AND date_key = ANY(%(partial_location_days)s::integer[]);
DELETE FROM prod.fact_vehicle_period_distance
 WHERE period_key IN (SELECT period_key FROM dev.affected_periods);
-- a continued track keeps its published points (its new ones are added below); its pair's
-- row is replaced
DELETE FROM prod.fact_vehicle_period_distance f
 USING dev.continued_pairs c
 WHERE (f.period_key, f.vehicle_id) = (c.period_key, c.vehicle_id);
DELETE FROM prod.fact_client_daily_activity
 WHERE date_key IN (SELECT date_key FROM dev.rebuilt_activity_dates);
DELETE FROM prod.int_vehicle_daily_updates WHERE event_date = ANY(%(dates)s);
DELETE FROM prod.int_period_daily_distance
 WHERE period_key IN (SELECT period_key FROM dev.affected_periods);
-- in time order: each organization's rows append to its end of the (organization, time)
-- btree instead of writing all over it
INSERT INTO prod.int_vehicle_updates SELECT * FROM dev.int_vehicle_updates
 WHERE event_date <> ALL(%(whole_update_dates)s::date[])
 ORDER BY location_at;
INSERT INTO prod.fact_vehicle_location SELECT * FROM dev.fact_vehicle_location
 WHERE date_key <> ALL(%(whole_location_days)s::integer[])
 ORDER BY period_key, vehicle_id, point_no;
INSERT INTO prod.fact_vehicle_period_distance SELECT * FROM dev.fact_vehicle_period_distance;
-- counts add up: a load's updates are new events (staging removed every duplicate)
INSERT INTO prod.int_vehicle_daily_updates SELECT * FROM dev.int_vehicle_daily_updates
    ON CONFLICT (organization_id, vehicle_id, date_key, event_date)
    DO UPDATE SET updates = prod.int_vehicle_daily_updates.updates + excluded.updates;
-- a continued track's published day takes its new sum (see build_activity.sql)
INSERT INTO prod.int_period_daily_distance SELECT * FROM dev.int_period_daily_distance
    ON CONFLICT (period_key, vehicle_id, date_key)
    DO UPDATE SET km = excluded.km, points = excluded.points;
INSERT INTO prod.fact_client_daily_activity SELECT * FROM dev.fact_client_daily_activity;
ANALYZE prod.fact_vehicle_period_distance;
