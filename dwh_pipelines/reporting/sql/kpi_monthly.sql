-- Monthly KPIs (with month-over-month change) of the clients with the most updates,
-- over the last months of data.
WITH top AS (
    SELECT organization_id FROM marts.kpi_client_monthly
     GROUP BY organization_id ORDER BY sum(updates) DESC, organization_id LIMIT %(clients)s
)
SELECT m.organization_id, m.month, m.active_vehicles, m.updates, m.km,
       m.updates_mom_change, m.km_mom_change,
       (SELECT count(DISTINCT organization_id) FROM marts.kpi_client_monthly)::int AS clients
  FROM marts.kpi_client_monthly m
  JOIN top USING (organization_id)
 WHERE m.month > (SELECT max(month) FROM marts.kpi_client_monthly)
                 - make_interval(months => %(months)s::int)
 ORDER BY m.month, m.organization_id
