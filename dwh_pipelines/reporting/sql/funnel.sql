-- Rows of the data held, through the layers: lake batches (converted input) and the last
-- build of every event-date partition per layer, less what retention expired.
WITH lake AS (
    SELECT coalesce(sum(input_lines), 0)::bigint AS source_lines,
           coalesce(sum(parquet_rows), 0)::bigint AS lake_rows,
           coalesce(sum(quarantined_lines), 0)::bigint AS quarantined
      FROM ops.lake_batches
     WHERE converted_at IS NOT NULL AND expired_at IS NULL
),
layers AS (
    SELECT coalesce(sum(rows_out) FILTER (WHERE layer = 'raw'), 0)::bigint AS raw_rows,
           coalesce(sum(rows_in) FILTER (WHERE layer = 'staging'), 0)::bigint AS staging_in,
           coalesce(sum(rows_out) FILTER (WHERE layer = 'staging'), 0)::bigint AS staged_rows,
           coalesce(sum(duplicates_removed) FILTER (WHERE layer = 'staging'), 0)::bigint
               AS duplicates_removed,
           coalesce(sum(rejected) FILTER (WHERE layer = 'staging'), 0)::bigint AS rejected,
           coalesce(sum(rows_in) FILTER (WHERE layer = 'semantic'), 0)::bigint
               AS vehicle_events,
           coalesce(sum(rows_out) FILTER (WHERE layer = 'semantic'), 0)::bigint
               AS positioned_updates,
           (count(*) FILTER (WHERE layer = 'staging'))::int AS staged_dates
      FROM ops.layer_partitions
     WHERE expired_at IS NULL
)
SELECT * FROM lake, layers
