-- Columns each view reads (from its rewrite rule's dependencies), with their descriptions:
-- a view column without its own comment inherits the comment of the same-named column it
-- reads, when that is unambiguous.
SELECT DISTINCT vn.nspname AS view_schema, v.relname AS view_name,
       sn.nspname AS source_schema, s.relname AS source_table, sa.attname AS column_name,
       col_description(s.oid, sa.attnum) AS description
  FROM pg_depend d
  JOIN pg_rewrite r ON r.oid = d.objid
  JOIN pg_class v ON v.oid = r.ev_class
  JOIN pg_namespace vn ON vn.oid = v.relnamespace
  JOIN pg_class s ON s.oid = d.refobjid
  JOIN pg_namespace sn ON sn.oid = s.relnamespace
  JOIN pg_attribute sa ON sa.attrelid = s.oid AND sa.attnum = d.refobjsubid
 WHERE d.classid = 'pg_rewrite'::regclass
   AND d.refclassid = 'pg_class'::regclass
   AND d.refobjsubid > 0
   AND s.oid <> v.oid
   AND v.relkind IN ('v', 'm')
 ORDER BY 1, 2, 3, 4, 5
