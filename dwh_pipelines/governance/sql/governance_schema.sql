-- dwh_db: the data governance itself needs (created by dwh_pipelines.governance apply; owned by
-- the pipeline role like every warehouse object). Privileges and RLS come from the policy.
CREATE SCHEMA IF NOT EXISTS {schema};
COMMENT ON SCHEMA {schema} IS 'Governance data: analyst-to-client assignments (row-level security) and the vehicle pseudonym mapping.';

CREATE TABLE IF NOT EXISTS {schema}.{assignments} (
    role_name       text        NOT NULL,
    organization_id text        NOT NULL,
    assigned_at     timestamptz NOT NULL DEFAULT now(),
    assigned_by     text        NOT NULL DEFAULT current_user,
    PRIMARY KEY (role_name, organization_id)
);
COMMENT ON TABLE {schema}.{assignments} IS 'Which clients each analyst sees: row-level security on the marts and star admits a row when its organization is assigned to current_user or to a role current_user belongs to. Written by senior data engineers only.';
COMMENT ON COLUMN {schema}.{assignments}.role_name IS 'A login user or a group role.';
COMMENT ON COLUMN {schema}.{assignments}.organization_id IS 'Client the role may see.';
COMMENT ON COLUMN {schema}.{assignments}.assigned_at IS 'When the assignment was made.';
COMMENT ON COLUMN {schema}.{assignments}.assigned_by IS 'Who made it.';

CREATE TABLE IF NOT EXISTS {schema}.{pseudonyms} (
    vehicle_id text        PRIMARY KEY,
    pseudonym  text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE {schema}.{pseudonyms} IS 'Real vehicle id of each pseudonym shown in the marts (HMAC-SHA256 with FLEET_PSEUDONYM_KEY). Re-identifies vehicles: engineers only.';
COMMENT ON COLUMN {schema}.{pseudonyms}.vehicle_id IS 'Vehicle id from the feed.';
COMMENT ON COLUMN {schema}.{pseudonyms}.pseudonym IS 'Surrogate id shown to analysts.';
COMMENT ON COLUMN {schema}.{pseudonyms}.created_at IS 'When the vehicle was first pseudonymised.';
