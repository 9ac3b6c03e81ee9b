-- Listed objects not in the manifest yet (anti-join on key and ETag), with their landing key.
-- A key seen before with another ETag is a changed re-delivery and lands beside the first.
SELECT l.source_key, l.etag, l.size_bytes, l.last_modified,
       CASE WHEN EXISTS (SELECT 1 FROM ops.lake_objects o WHERE o.source_key = l.source_key)
            THEN l.source_key || '~' || l.etag
            ELSE l.source_key END AS landing_key
  FROM listing l
 WHERE NOT EXISTS (SELECT 1 FROM ops.lake_objects m
                    WHERE m.source_key = l.source_key AND m.etag = l.etag)
 ORDER BY l.source_key
