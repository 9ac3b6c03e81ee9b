-- The latest-hour path of the top client's most active vehicle, in path order.
SELECT organization_id, vehicle_id, seq, location_at, location_lat, location_lng,
       extract(epoch FROM location_at - min(location_at) OVER ())::float8 / 60 AS minutes
  FROM marts.latest_updates_on_top1_client
 ORDER BY seq
