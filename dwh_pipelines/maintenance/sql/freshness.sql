-- Source objects whose data has not reached dwh_db yet, with the oldest one's time.
-- Pending: listed in the source but not landed; landed but not converted; or converted
-- into event dates that dwh has not published since the conversion.
WITH not_landed AS (
    SELECT l.source_key, l.last_modified
      FROM listing l
     WHERE NOT EXISTS (SELECT 1 FROM ops.lake_objects o
                        WHERE o.source_key = l.source_key AND o.etag = l.etag)
),
-- the batches first (a few a day), then their objects by index: the manifest holds every
-- object ever delivered and is not read whole
unpublished_batches AS (
    SELECT b.batch_id
      FROM ops.lake_batches b
     WHERE b.converted_at IS NULL
        OR EXISTS (SELECT 1 FROM unnest(b.event_dates) AS d(event_date)
                    WHERE NOT EXISTS (SELECT 1 FROM ops.layer_partitions p
                                       WHERE p.layer = 'dwh' AND p.event_date = d.event_date
                                         AND p.loaded_at >= b.converted_at))
),
not_published AS (
    SELECT o.source_key, o.last_modified
      FROM ops.lake_objects o
     WHERE o.batch_id IS NULL
    UNION ALL
    SELECT o.source_key, o.last_modified
      FROM unpublished_batches u
      JOIN ops.lake_objects o ON o.batch_id = u.batch_id
),
pending AS (
    SELECT * FROM not_landed UNION ALL SELECT * FROM not_published
)
SELECT count(*) AS pending_objects,
       min(coalesce(last_modified, now())) AS oldest_pending_at,
       (SELECT source_key FROM pending ORDER BY last_modified NULLS LAST LIMIT 1) AS oldest_key,
       (SELECT max(loaded_at) FROM ops.layer_partitions WHERE layer = 'dwh') AS dwh_published_at
  FROM pending
