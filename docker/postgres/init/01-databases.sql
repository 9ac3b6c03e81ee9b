-- Databases of the fleet stack, created as POSTGRES_USER by the postgres image's entrypoint
-- on the first start of an empty data volume (/docker-entrypoint-initdb.d).
--   raw_db, staging_db, semantic_db, dwh_db: the warehouse layers
--     (pipeline_core.settings.WAREHOUSE_DATABASES; ops metadata is schema "ops" of dwh_db,
--     created by the pipeline itself)
--   airflow_db: Airflow's metadata database (and the Celery result backend)
-- Idempotent (psql \gexec), so it can be re-run on an existing volume:
--   docker compose exec postgres sh -c \
--     'psql -U "$POSTGRES_USER" -d postgres -f /docker-entrypoint-initdb.d/01-databases.sql'
SELECT 'CREATE DATABASE raw_db' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'raw_db')\gexec
SELECT 'CREATE DATABASE staging_db' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'staging_db')\gexec
SELECT 'CREATE DATABASE semantic_db' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'semantic_db')\gexec
SELECT 'CREATE DATABASE dwh_db' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dwh_db')\gexec
SELECT 'CREATE DATABASE airflow_db' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'airflow_db')\gexec
