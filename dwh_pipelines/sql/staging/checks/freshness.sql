-- Freshness (runs on the ops database): the feed delivered nothing new for over 30 minutes.
SELECT max(extracted_at) AS last_new_object, now() - max(extracted_at) AS lag
  FROM ops.lake_objects
HAVING max(extracted_at) < now() - interval '30 minutes'
