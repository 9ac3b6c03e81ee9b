-- The run's extract plan: listed objects not in the manifest yet (anti-join on key and
-- ETag), numbered in key order and cut into shards of %(per_shard)s objects. A key seen
-- before with another ETag is a changed re-delivery: a new row, its bytes kept beside the
-- first. A re-planned run replaces its plan; plans left by failed runs expire after 7 days.
DELETE FROM ops.extract_plan
 WHERE run_id = %(run_id)s OR planned_at < now() - interval '7 days';

INSERT INTO ops.extract_plan (run_id, shard, source_key, etag, size_bytes, last_modified)
SELECT %(run_id)s,
       ((row_number() OVER (ORDER BY l.source_key, l.etag)) - 1) / %(per_shard)s,
       l.source_key, l.etag, l.size_bytes, l.last_modified
  FROM listing l
 WHERE NOT EXISTS (SELECT 1 FROM ops.lake_objects m
                    WHERE m.source_key = l.source_key AND m.etag = l.etag);
