-- Accounting of the dev build per event date: rows in, staged, duplicates, rejected.
SELECT event_date, 'in' AS kind, count(*) FROM dev.src_vehicle_events GROUP BY 1
UNION ALL SELECT event_date, 'in', count(*) FROM dev.src_operating_period_events GROUP BY 1
UNION ALL SELECT event_date, 'out', count(*) FROM dev.stg_vehicle_events GROUP BY 1
UNION ALL SELECT event_date, 'out', count(*) FROM dev.stg_operating_period_events GROUP BY 1
UNION ALL SELECT event_date, 'dup', count(*) FROM dev.stg_removed_duplicates GROUP BY 1
UNION ALL SELECT event_date, 'rej', count(*) FROM dev.stg_rejected_events GROUP BY 1
