-- semantic model table dim_vehicle, created in schema {schema}.
CREATE TABLE IF NOT EXISTS {schema}.dim_vehicle (
    vehicle_key      uuid        PRIMARY KEY,
    vehicle_id       text        NOT NULL,
    organization_key uuid        NOT NULL REFERENCES {schema}.dim_organization DEFERRABLE INITIALLY DEFERRED,
    organization_id  text        NOT NULL,
    valid_from       timestamptz NOT NULL,
    valid_to         timestamptz NOT NULL,
    is_current       boolean     NOT NULL,
    registered_at    timestamptz,
    deregistered_at  timestamptz,
    is_inferred      boolean     NOT NULL
);
CREATE INDEX IF NOT EXISTS dim_vehicle_natural ON {schema}.dim_vehicle (organization_id, vehicle_id, valid_from);
COMMENT ON TABLE {schema}.dim_vehicle IS 'Vehicles with registration history (SCD type 2): one row per registration, valid from register to deregister. Many vehicles per organization.';
COMMENT ON COLUMN {schema}.dim_vehicle.vehicle_key IS 'Surrogate key of the version (hash of organization, vehicle, valid_from).';
COMMENT ON COLUMN {schema}.dim_vehicle.vehicle_id IS 'Vehicle id from the feed.';
COMMENT ON COLUMN {schema}.dim_vehicle.organization_key IS 'Owning organization (many vehicles to one organization).';
COMMENT ON COLUMN {schema}.dim_vehicle.organization_id IS 'Owning organization id (degenerate copy for readability).';
COMMENT ON COLUMN {schema}.dim_vehicle.valid_from IS 'Start of validity: the register event time, or -infinity for an inferred vehicle.';
COMMENT ON COLUMN {schema}.dim_vehicle.valid_to IS 'End of validity: the deregister event time, the next registration, or infinity.';
COMMENT ON COLUMN {schema}.dim_vehicle.is_current IS 'True for the version valid now.';
COMMENT ON COLUMN {schema}.dim_vehicle.registered_at IS 'Register event time (UTC); null when inferred.';
COMMENT ON COLUMN {schema}.dim_vehicle.deregistered_at IS 'Deregister event time (UTC); null while registered.';
COMMENT ON COLUMN {schema}.dim_vehicle.is_inferred IS 'True when the vehicle sent updates but was never registered (inferred member).';
