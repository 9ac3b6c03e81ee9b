-- Publish one dimension, {table} keyed by {key}, in publish's transaction (foreign keys
-- deferred): dev holds it whole, and only the rows that changed or went are deleted and
-- only the new or changed ones inserted. A run then writes, and checks the foreign keys
-- of, what changed, not every period and vehicle version of the history (deleting and
-- inserting them all cost about 1 s a run after a year of periods, and left as many dead
-- rows to vacuum). Rows are matched by key, then compared whole.
DELETE FROM prod.{table} p
 WHERE NOT EXISTS (SELECT 1 FROM dev.{table} d
                    WHERE d.{key} = p.{key} AND ROW(d.*) IS NOT DISTINCT FROM ROW(p.*));
INSERT INTO prod.{table}
SELECT * FROM dev.{table} d WHERE NOT EXISTS (SELECT 1 FROM prod.{table} p WHERE p.{key} = d.{key});
