-- Performance tuning: indexes for the marts' and reports' usual queries.
CREATE INDEX IF NOT EXISTS kpi_client_daily_date ON marts.kpi_client_daily (date, organization_id);
CREATE INDEX IF NOT EXISTS kpi_client_monthly_month ON marts.kpi_client_monthly (month);
CREATE INDEX IF NOT EXISTS avg_distance_period_start ON marts.avg_distance_per_operating_period (period_start);
CREATE INDEX IF NOT EXISTS no_updates_rank ON marts.no_updates_per_client (rank);
CREATE INDEX IF NOT EXISTS star_fact_distance_org ON star.fact_vehicle_period_distance (organization_id, period_id);
ANALYZE marts.avg_distance_per_operating_period;
ANALYZE marts.kpi_client_daily;
ANALYZE marts.kpi_client_monthly;
