-- Rows held per layer (last build of every event date) and the lake's input, for lineage,
-- less what retention expired.
SELECT layer, (count(*))::int AS event_dates, coalesce(sum(rows_in), 0)::bigint AS rows_in,
       coalesce(sum(rows_out), 0)::bigint AS rows_out, max(loaded_at) AS last_loaded_at
  FROM ops.layer_partitions
 WHERE expired_at IS NULL
 GROUP BY layer
UNION ALL
SELECT 'source', (SELECT count(DISTINCT d)::int FROM ops.lake_batches, unnest(event_dates) d
                   WHERE converted_at IS NOT NULL AND expired_at IS NULL
                     AND d NOT IN (SELECT event_date FROM ops.layer_partitions
                                    WHERE layer = 'lake' AND expired_at IS NOT NULL)),
       coalesce(sum(input_lines), 0)::bigint, coalesce(sum(input_lines), 0)::bigint,
       max(converted_at)
  FROM ops.lake_batches
 WHERE converted_at IS NOT NULL AND expired_at IS NULL
UNION ALL
SELECT 'lake_parquet', NULL, coalesce(sum(input_lines), 0)::bigint,
       coalesce(sum(parquet_rows), 0)::bigint, max(converted_at)
  FROM ops.lake_batches
 WHERE converted_at IS NOT NULL AND expired_at IS NULL
