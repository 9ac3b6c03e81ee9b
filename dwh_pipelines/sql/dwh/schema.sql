-- dwh_db (L4): marts (tables written by the pipeline) and analytics (user-access views).
-- The star schema's tables are created from the semantic model's table files.
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS analytics;
COMMENT ON SCHEMA star IS 'Published copy of the semantic model''s dimensions and aggregate facts.';
COMMENT ON SCHEMA marts IS 'Data marts answering the BI questions; written by the pipeline only.';
COMMENT ON SCHEMA analytics IS 'User-access views over the marts: what analysts query.';

CREATE TABLE IF NOT EXISTS marts.avg_distance_per_operating_period (
    organization_id     text             NOT NULL,
    operating_period_id text             NOT NULL,
    period_start        timestamptz      NOT NULL,
    period_finish       timestamptz      NOT NULL,
    vehicles            integer          NOT NULL,
    total_km            double precision NOT NULL,
    avg_km              double precision NOT NULL,
    PRIMARY KEY (organization_id, operating_period_id)
);
COMMENT ON TABLE marts.avg_distance_per_operating_period IS 'The BI answer per operating period: vehicles seen, total and average km per vehicle. Counted periods (created, not deleted) with at least one vehicle.';
COMMENT ON COLUMN marts.avg_distance_per_operating_period.organization_id IS 'Client.';
COMMENT ON COLUMN marts.avg_distance_per_operating_period.operating_period_id IS 'Operating period id.';
COMMENT ON COLUMN marts.avg_distance_per_operating_period.period_start IS 'Period start (UTC).';
COMMENT ON COLUMN marts.avg_distance_per_operating_period.period_finish IS 'Period finish (UTC).';
COMMENT ON COLUMN marts.avg_distance_per_operating_period.vehicles IS 'Vehicles with at least one accepted point in the period (one point = 0 km, still counted).';
COMMENT ON COLUMN marts.avg_distance_per_operating_period.total_km IS 'Sum of the vehicles'' distances, km.';
COMMENT ON COLUMN marts.avg_distance_per_operating_period.avg_km IS 'Average distance per vehicle in the period, km.';

CREATE TABLE IF NOT EXISTS marts.avg_distance_overall (
    vehicle_periods          integer          NOT NULL,
    periods                  integer          NOT NULL,
    avg_km_per_vehicle_period double precision,
    total_km                 double precision NOT NULL
);
COMMENT ON TABLE marts.avg_distance_overall IS 'The BI answer overall: average km over all (operating period, vehicle) pairs.';
COMMENT ON COLUMN marts.avg_distance_overall.vehicle_periods IS 'Number of (period, vehicle) pairs.';
COMMENT ON COLUMN marts.avg_distance_overall.periods IS 'Counted periods with at least one vehicle.';
COMMENT ON COLUMN marts.avg_distance_overall.avg_km_per_vehicle_period IS 'Mean distance per (period, vehicle) pair, km.';
COMMENT ON COLUMN marts.avg_distance_overall.total_km IS 'Total km over all pairs.';

CREATE TABLE IF NOT EXISTS marts.no_updates_per_client (
    rank            integer     NOT NULL,
    organization_id text        PRIMARY KEY,
    updates         bigint      NOT NULL,
    first_day       date        NOT NULL,
    last_day        date        NOT NULL
);
COMMENT ON TABLE marts.no_updates_per_client IS 'Positioned vehicle updates per client over all loaded days, top clients first.';
COMMENT ON COLUMN marts.no_updates_per_client.rank IS '1 = client with the most updates.';
COMMENT ON COLUMN marts.no_updates_per_client.organization_id IS 'Client.';
COMMENT ON COLUMN marts.no_updates_per_client.updates IS 'Positioned updates.';
COMMENT ON COLUMN marts.no_updates_per_client.first_day IS 'First day with updates (UTC).';
COMMENT ON COLUMN marts.no_updates_per_client.last_day IS 'Last day with updates (UTC).';

CREATE TABLE IF NOT EXISTS marts.latest_updates_on_top1_client (
    organization_id text             NOT NULL,
    vehicle_id      text             NOT NULL,
    seq             integer          NOT NULL,
    location_at     timestamptz      NOT NULL,
    location_lat    double precision NOT NULL,
    location_lng    double precision NOT NULL,
    PRIMARY KEY (seq)
);
COMMENT ON TABLE marts.latest_updates_on_top1_client IS 'Path of the most active vehicle of the top client (most updates) during that client''s latest hour of data.';
COMMENT ON COLUMN marts.latest_updates_on_top1_client.organization_id IS 'Top client.';
COMMENT ON COLUMN marts.latest_updates_on_top1_client.vehicle_id IS 'Its vehicle with the most updates in the hour.';
COMMENT ON COLUMN marts.latest_updates_on_top1_client.seq IS 'Order along the path.';
COMMENT ON COLUMN marts.latest_updates_on_top1_client.location_at IS 'Position time (UTC).';
COMMENT ON COLUMN marts.latest_updates_on_top1_client.location_lat IS 'Latitude, WGS84 degrees.';
COMMENT ON COLUMN marts.latest_updates_on_top1_client.location_lng IS 'Longitude, WGS84 degrees.';

CREATE TABLE IF NOT EXISTS marts.kpi_client_daily (
    organization_id text             NOT NULL,
    date            date             NOT NULL,
    active_vehicles integer          NOT NULL,
    updates         bigint           NOT NULL,
    km              double precision NOT NULL,
    PRIMARY KEY (organization_id, date)
);
COMMENT ON TABLE marts.kpi_client_daily IS 'Daily KPIs per client: active vehicles, positioned updates, km inside counted periods.';
COMMENT ON COLUMN marts.kpi_client_daily.organization_id IS 'Client.';
COMMENT ON COLUMN marts.kpi_client_daily.date IS 'Day (UTC).';
COMMENT ON COLUMN marts.kpi_client_daily.active_vehicles IS 'Vehicles with at least one positioned update.';
COMMENT ON COLUMN marts.kpi_client_daily.updates IS 'Positioned updates.';
COMMENT ON COLUMN marts.kpi_client_daily.km IS 'Km travelled inside counted operating periods.';

CREATE TABLE IF NOT EXISTS marts.kpi_client_monthly (
    organization_id     text             NOT NULL,
    month               date             NOT NULL,
    active_vehicles     integer          NOT NULL,
    updates             bigint           NOT NULL,
    km                  double precision NOT NULL,
    updates_mom_change  double precision,
    km_mom_change       double precision,
    PRIMARY KEY (organization_id, month)
);
COMMENT ON TABLE marts.kpi_client_monthly IS 'Monthly KPIs per client with month-over-month change.';
COMMENT ON COLUMN marts.kpi_client_monthly.organization_id IS 'Client.';
COMMENT ON COLUMN marts.kpi_client_monthly.month IS 'First day of the month (UTC).';
COMMENT ON COLUMN marts.kpi_client_monthly.active_vehicles IS 'Largest number of active vehicles on a day of the month.';
COMMENT ON COLUMN marts.kpi_client_monthly.updates IS 'Positioned updates in the month.';
COMMENT ON COLUMN marts.kpi_client_monthly.km IS 'Km inside counted periods in the month.';
COMMENT ON COLUMN marts.kpi_client_monthly.updates_mom_change IS 'Relative change of updates against the previous month (0.1 = +10 %); null without a previous month.';
COMMENT ON COLUMN marts.kpi_client_monthly.km_mom_change IS 'Relative change of km against the previous month; null without a previous month.';

CREATE OR REPLACE VIEW analytics.avg_distance_per_operating_period WITH (security_invoker = true) AS
    SELECT * FROM marts.avg_distance_per_operating_period;
CREATE OR REPLACE VIEW analytics.avg_distance_overall WITH (security_invoker = true) AS SELECT * FROM marts.avg_distance_overall;
CREATE OR REPLACE VIEW analytics.no_updates_per_client WITH (security_invoker = true) AS SELECT * FROM marts.no_updates_per_client;
CREATE OR REPLACE VIEW analytics.latest_updates_on_top1_client WITH (security_invoker = true) AS
    SELECT * FROM marts.latest_updates_on_top1_client;
CREATE OR REPLACE VIEW analytics.kpi_client_daily WITH (security_invoker = true) AS SELECT * FROM marts.kpi_client_daily;
CREATE OR REPLACE VIEW analytics.kpi_client_monthly WITH (security_invoker = true) AS SELECT * FROM marts.kpi_client_monthly;
COMMENT ON VIEW analytics.avg_distance_per_operating_period IS 'The BI answer per operating period (see marts.avg_distance_per_operating_period).';
COMMENT ON VIEW analytics.avg_distance_overall IS 'The BI answer overall (see marts.avg_distance_overall).';
COMMENT ON VIEW analytics.no_updates_per_client IS 'Updates per client, top first.';
COMMENT ON VIEW analytics.latest_updates_on_top1_client IS 'Latest-hour path of the top client''s most active vehicle.';
COMMENT ON VIEW analytics.kpi_client_daily IS 'Daily KPIs per client.';
COMMENT ON VIEW analytics.kpi_client_monthly IS 'Monthly KPIs per client with month-over-month change.';

-- View columns carry their own comments (the data dictionary reads them).
DO $$
DECLARE
    v record;
BEGIN
    FOR v IN
        SELECT c.relname AS view_name, a.attname AS column_name,
               col_description(format('marts.%I', c.relname)::regclass, a.attnum) AS comment
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'analytics'
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relkind = 'v' AND to_regclass(format('marts.%I', c.relname)) IS NOT NULL
    LOOP
        EXECUTE format('COMMENT ON COLUMN analytics.%I.%I IS %L', v.view_name, v.column_name, v.comment);
    END LOOP;
END $$;
