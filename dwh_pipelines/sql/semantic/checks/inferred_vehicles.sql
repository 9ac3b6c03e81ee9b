-- Vehicles that sent positions but were never registered (kept as inferred members).
SELECT organization_id, vehicle_id FROM dev.dim_vehicle WHERE is_inferred
