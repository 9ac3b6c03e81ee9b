-- semantic model table dim_organization, created in schema {schema}.
CREATE TABLE IF NOT EXISTS {schema}.dim_organization (
    organization_key uuid        PRIMARY KEY,
    organization_id  text        NOT NULL UNIQUE,
    first_seen_at    timestamptz NOT NULL
);
COMMENT ON TABLE {schema}.dim_organization IS 'Clients of the platform (organizations owning vehicles and operating periods).';
COMMENT ON COLUMN {schema}.dim_organization.organization_key IS 'Surrogate key (hash of organization_id).';
COMMENT ON COLUMN {schema}.dim_organization.organization_id IS 'Organization id from the feed.';
COMMENT ON COLUMN {schema}.dim_organization.first_seen_at IS 'First event of the organization (UTC).';
