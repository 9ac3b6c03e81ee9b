-- Latest result of every data-quality check, per layer.
SELECT DISTINCT ON (layer, check_name)
       layer, check_name, severity, status, rows_affected, description, checked_at, run_id
  FROM ops.dq_results
 ORDER BY layer, check_name, checked_at DESC, id DESC
