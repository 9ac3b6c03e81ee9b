-- New conversion batches: every landed object not in a batch yet, cut into batches of
-- about %(per_batch)s objects. Whole landing bundles stay together (one GET a bundle), and
-- batches are numbered in landing order so that batch ids sort as the objects arrived.
CREATE TEMP TABLE planned_batches ON COMMIT DROP AS
WITH bundles AS (
    SELECT landing_key, count(*) AS objects, min(extracted_at) AS first_at
      FROM ops.lake_objects
     WHERE batch_id IS NULL
     GROUP BY landing_key
),
numbered AS (
    SELECT landing_key,
           div(sum(objects) OVER (ORDER BY first_at, landing_key) - objects, %(per_batch)s) AS n
      FROM bundles
)
SELECT landing_key, %(prefix)s || '-' || lpad(n::text, 3, '0') AS batch_id
  FROM numbered;

INSERT INTO ops.lake_batches (batch_id, run_id)
SELECT DISTINCT batch_id, %(run_id)s FROM planned_batches;

UPDATE ops.lake_objects o
   SET batch_id = p.batch_id
  FROM planned_batches p
 WHERE o.landing_key = p.landing_key AND o.batch_id IS NULL;
