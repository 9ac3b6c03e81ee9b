-- Rows each layer holds per its last build of every event date (the accounting of the
-- platform), less the dates retention expired.
SELECT layer, count(*) AS event_dates, coalesce(sum(rows_in), 0) AS rows_in,
       coalesce(sum(rows_out), 0) AS rows_out,
       coalesce(sum(duplicates_removed), 0) AS duplicates_removed,
       coalesce(sum(rejected), 0) AS rejected, max(loaded_at) AS last_loaded_at
  FROM ops.layer_partitions
 WHERE expired_at IS NULL
 GROUP BY layer
