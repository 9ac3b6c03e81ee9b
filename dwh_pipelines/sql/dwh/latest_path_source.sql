-- Runs on semantic_db prod: the top client's most active vehicle in its latest hour.
WITH top_client AS (
    SELECT organization_id FROM prod.fact_client_daily_activity
     GROUP BY organization_id ORDER BY sum(updates) DESC, organization_id LIMIT 1
),
client_updates AS (
    SELECT u.* FROM prod.int_vehicle_updates u JOIN top_client USING (organization_id)
),
latest_hour AS (
    SELECT c.* FROM client_updates c,
           (SELECT max(location_at) AS hi FROM client_updates) last
     WHERE c.location_at > last.hi - interval '1 hour'
),
top_vehicle AS (
    SELECT vehicle_id FROM latest_hour GROUP BY vehicle_id ORDER BY count(*) DESC, vehicle_id LIMIT 1
)
SELECT organization_id, vehicle_id,
       (row_number() OVER (ORDER BY location_at, event_key))::integer AS seq,
       location_at, location_lat, location_lng
  FROM latest_hour JOIN top_vehicle USING (vehicle_id)
