-- Daily KPIs of the clients with the most updates, over the last days of data.
WITH top AS (
    SELECT organization_id FROM marts.kpi_client_daily
     GROUP BY organization_id ORDER BY sum(updates) DESC, organization_id LIMIT %(clients)s
)
SELECT d.organization_id, d.date, d.active_vehicles, d.updates, d.km
  FROM marts.kpi_client_daily d
  JOIN top USING (organization_id)
 WHERE d.date > (SELECT max(date) FROM marts.kpi_client_daily) - %(days)s::int
 ORDER BY d.organization_id, d.date
