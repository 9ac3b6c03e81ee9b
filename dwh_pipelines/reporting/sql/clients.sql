-- Top clients by positioned updates, with their share of all clients' updates.
SELECT rank, organization_id, updates, first_day, last_day,
       updates::float8 / nullif(sum(updates) OVER (), 0) AS share,
       (count(*) OVER ())::int AS clients
  FROM marts.no_updates_per_client
 ORDER BY rank, organization_id
 LIMIT %(limit)s
