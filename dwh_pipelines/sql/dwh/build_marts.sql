-- Rebuild the marts from the star copy (called inside the dwh transaction).
TRUNCATE marts.avg_distance_per_operating_period, marts.avg_distance_overall,
         marts.no_updates_per_client, marts.kpi_client_daily, marts.kpi_client_monthly;

INSERT INTO marts.avg_distance_per_operating_period
WITH pairs AS (
    SELECT f.organization_id, f.period_id, f.vehicle_id, f.distance_km
      FROM star.fact_vehicle_period_distance f
      JOIN star.dim_operating_period p USING (period_key)
     WHERE p.is_counted
),
final AS (
    SELECT p.organization_id, p.period_id, d.period_start, d.period_finish,
           count(*) AS vehicles, sum(p.distance_km) AS total_km, avg(p.distance_km) AS avg_km
      FROM pairs p
      JOIN star.dim_operating_period d USING (organization_id, period_id)
     GROUP BY 1, 2, 3, 4
)
SELECT * FROM final;

INSERT INTO marts.avg_distance_overall
SELECT coalesce(sum(vehicles), 0), count(*),
       sum(total_km) / nullif(sum(vehicles), 0), coalesce(sum(total_km), 0)
  FROM marts.avg_distance_per_operating_period;

INSERT INTO marts.kpi_client_daily
SELECT organization_id, date, active_vehicles, updates, km_in_periods
  FROM star.fact_client_daily_activity;

INSERT INTO marts.kpi_client_monthly
WITH monthly AS (
    SELECT organization_id, date_trunc('month', date)::date AS month,
           max(active_vehicles) AS active_vehicles, sum(updates) AS updates, sum(km) AS km
      FROM marts.kpi_client_daily GROUP BY 1, 2
)
SELECT organization_id, month, active_vehicles, updates, km,
       updates::double precision / nullif(lag(updates) OVER w, 0) - 1,
       km / nullif(lag(km) OVER w, 0) - 1
  FROM monthly
WINDOW w AS (PARTITION BY organization_id ORDER BY month);

INSERT INTO marts.no_updates_per_client
SELECT rank() OVER (ORDER BY sum(updates) DESC, organization_id)::integer, organization_id,
       sum(updates), min(date), max(date)
  FROM marts.kpi_client_daily
 GROUP BY organization_id;
