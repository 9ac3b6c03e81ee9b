-- Column profiles summed over every profiled lake chunk. Distinct counts are per chunk, so
-- the largest is a lower bound; numeric text is compared as numbers, other text as text
-- (timestamps are written in one sortable format).
SELECT dataset, column_name,
       sum(rows)::bigint AS rows, sum(nulls)::bigint AS nulls,
       max(distinct_count)::bigint AS distinct_max,
       CASE WHEN bool_and(min_value ~ '^-?[0-9]+(\.[0-9]+)?$')
            THEN min(CASE WHEN min_value ~ '^-?[0-9]+(\.[0-9]+)?$'
                          THEN min_value::numeric END)::text
            ELSE min(min_value) END AS min_value,
       CASE WHEN bool_and(max_value ~ '^-?[0-9]+(\.[0-9]+)?$')
            THEN max(CASE WHEN max_value ~ '^-?[0-9]+(\.[0-9]+)?$'
                          THEN max_value::numeric END)::text
            ELSE max(max_value) END AS max_value,
       (count(DISTINCT batch_id))::int AS batches,
       max(profiled_at) AS profiled_at
  FROM ops.column_profiles
 GROUP BY dataset, column_name
 ORDER BY dataset, column_name
