-- Rows held per layer (last build of every event date) and the lake's input, for lineage,
-- less what retention expired. The lake's dates are its layer rows: convert writes one for
-- every date a batch wrote, and retention marks the expired ones.
SELECT layer, (count(*))::int AS event_dates, coalesce(sum(rows_in), 0)::bigint AS rows_in,
       coalesce(sum(rows_out), 0)::bigint AS rows_out, max(loaded_at) AS last_loaded_at
  FROM ops.layer_partitions
 WHERE expired_at IS NULL
 GROUP BY layer
UNION ALL
SELECT 'source', (SELECT count(*)::int FROM ops.layer_partitions
                   WHERE layer = 'lake' AND expired_at IS NULL),
       coalesce(sum(input_lines), 0)::bigint, coalesce(sum(input_lines), 0)::bigint,
       max(converted_at)
  FROM ops.lake_batches
 WHERE converted_at IS NOT NULL AND expired_at IS NULL
UNION ALL
SELECT 'lake_parquet', NULL, coalesce(sum(input_lines), 0)::bigint,
       coalesce(sum(parquet_rows), 0)::bigint, max(converted_at)
  FROM ops.lake_batches
 WHERE converted_at IS NOT NULL AND expired_at IS NULL
