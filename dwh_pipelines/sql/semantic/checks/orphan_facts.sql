-- Every fact row points at dimension rows that exist. fact_vehicle_location (one row per
-- point) declares no foreign keys, so this check is what guards its references.
SELECT 'fact_vehicle_period_distance' AS fact, f.period_key::text AS key
  FROM dev.fact_vehicle_period_distance f
 WHERE NOT EXISTS (SELECT 1 FROM dev.dim_operating_period p WHERE p.period_key = f.period_key)
    OR NOT EXISTS (SELECT 1 FROM dev.dim_vehicle v WHERE v.vehicle_key = f.vehicle_key)
UNION ALL
SELECT 'fact_vehicle_location', coalesce(f.date_key::text, '') || ' ' || f.period_key::text
  FROM dev.fact_vehicle_location f
 WHERE NOT EXISTS (SELECT 1 FROM dev.dim_date d WHERE d.date_key = f.date_key)
    OR NOT EXISTS (SELECT 1 FROM dev.dim_operating_period p WHERE p.period_key = f.period_key)
    OR NOT EXISTS (SELECT 1 FROM dev.dim_organization o
                    WHERE o.organization_key = f.organization_key)
