SELECT vehicle_periods, periods, avg_km_per_vehicle_period, total_km
  FROM marts.avg_distance_overall
