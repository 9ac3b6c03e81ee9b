-- Listed objects not in the manifest yet (anti-join on key and ETag). A key seen before
-- with another ETag is a changed re-delivery: a new row, its bytes kept beside the first.
SELECT l.source_key, l.etag, l.size_bytes, l.last_modified
  FROM listing l
 WHERE NOT EXISTS (SELECT 1 FROM ops.lake_objects m
                    WHERE m.source_key = l.source_key AND m.etag = l.etag)
 ORDER BY l.source_key, l.etag
