-- Operational metadata of the platform: lake manifest, audit, profiling, data quality.
-- Idempotent: run before every stage.
CREATE SCHEMA IF NOT EXISTS ops;
COMMENT ON SCHEMA ops IS 'Operational metadata: ingestion manifest, task audit, profiling and data-quality results.';

CREATE TABLE IF NOT EXISTS ops.lake_objects (
    source_key      text        NOT NULL,
    etag            text        NOT NULL,
    size_bytes      bigint      NOT NULL,
    last_modified   timestamptz,
    landing_key     text        NOT NULL,
    landing_offset  bigint      NOT NULL,
    landing_length  bigint      NOT NULL,
    extract_run_id  text        NOT NULL,
    extracted_at    timestamptz NOT NULL DEFAULT now(),
    batch_id        text,
    PRIMARY KEY (source_key, etag)
);
-- A manifest from before landing bundles had one landing object per source object: that
-- object is the whole landing object (offset 0, the object's size). Altered only when the
-- columns are missing, so every other run takes no lock here.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = 'ops' AND table_name = 'lake_objects'
                      AND column_name = 'landing_length') THEN
        ALTER TABLE ops.lake_objects
            ADD COLUMN landing_offset bigint NOT NULL DEFAULT 0,
            ADD COLUMN landing_length bigint;
        UPDATE ops.lake_objects SET landing_length = size_bytes;
        ALTER TABLE ops.lake_objects
            ALTER COLUMN landing_length SET NOT NULL,
            ALTER COLUMN landing_offset DROP DEFAULT;
    END IF;
END $$;
COMMENT ON TABLE ops.lake_objects IS 'Manifest of source objects copied into the lake landing zone: exactly-once ingestion is keyed by (source_key, etag); each row says which bundle and byte range hold the object.';
COMMENT ON COLUMN ops.lake_objects.source_key IS 'Object key in the source feed bucket.';
COMMENT ON COLUMN ops.lake_objects.etag IS 'ETag of the object when listed; a changed object is a new delivery.';
COMMENT ON COLUMN ops.lake_objects.size_bytes IS 'Object size in bytes.';
COMMENT ON COLUMN ops.lake_objects.last_modified IS 'Last-modified time reported by the source store.';
COMMENT ON COLUMN ops.lake_objects.landing_key IS 'Landing-zone bundle holding the unchanged bytes of the object (many small objects are stored together in one bundle).';
COMMENT ON COLUMN ops.lake_objects.landing_offset IS 'Byte offset of the object inside its landing bundle.';
COMMENT ON COLUMN ops.lake_objects.landing_length IS 'Byte length of the object inside its landing bundle.';
COMMENT ON COLUMN ops.lake_objects.extract_run_id IS 'Run that copied the object.';
COMMENT ON COLUMN ops.lake_objects.extracted_at IS 'When the object was copied.';
COMMENT ON COLUMN ops.lake_objects.batch_id IS 'Conversion batch that turned the object into Parquet (null: not yet converted).';
CREATE INDEX IF NOT EXISTS lake_objects_unconverted ON ops.lake_objects (extracted_at) WHERE batch_id IS NULL;
-- a batch's objects (convert reads them, the freshness check those of unpublished batches)
-- without reading the whole manifest, which grows by every object ever delivered
CREATE INDEX IF NOT EXISTS lake_objects_batch ON ops.lake_objects (batch_id) WHERE batch_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS ops.extract_plan (
    run_id          text        NOT NULL,
    shard           integer     NOT NULL,
    source_key      text        NOT NULL,
    etag            text        NOT NULL,
    size_bytes      bigint      NOT NULL,
    last_modified   timestamptz,
    planned_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, shard, source_key, etag)
);
COMMENT ON TABLE ops.extract_plan IS 'Work list of a running extract: the new objects it found in the source, cut into shards that separate (mapped) tasks land. A shard''s rows are deleted once it has landed; the manifest ops.lake_objects stays the record of what was ingested.';
COMMENT ON COLUMN ops.extract_plan.run_id IS 'Run that planned the extract.';
COMMENT ON COLUMN ops.extract_plan.shard IS 'Shard number (0-based): one mapped lake_extract task instance.';
COMMENT ON COLUMN ops.extract_plan.source_key IS 'Object key in the source feed bucket.';
COMMENT ON COLUMN ops.extract_plan.etag IS 'ETag of the object when listed.';
COMMENT ON COLUMN ops.extract_plan.size_bytes IS 'Object size in bytes when listed.';
COMMENT ON COLUMN ops.extract_plan.last_modified IS 'Last-modified time reported by the source store.';
COMMENT ON COLUMN ops.extract_plan.planned_at IS 'When the plan was made (plans of failed runs expire after 7 days).';

CREATE TABLE IF NOT EXISTS ops.lake_batches (
    batch_id          text        PRIMARY KEY,
    run_id            text        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    converted_at      timestamptz,
    objects           integer,
    input_lines       bigint,
    parquet_rows      bigint,
    quarantined_lines bigint,
    event_dates       date[],
    files             text[],
    schema_drift      text[],
    expired_at        timestamptz
);
COMMENT ON TABLE ops.lake_batches IS 'Conversion batches: a set of landed objects turned into Parquet together. input_lines = parquet_rows + quarantined_lines.';
COMMENT ON COLUMN ops.lake_batches.batch_id IS 'Batch id; Parquet and quarantine file names carry it, so a retried batch overwrites its own files.';
COMMENT ON COLUMN ops.lake_batches.run_id IS 'Run that opened the batch.';
COMMENT ON COLUMN ops.lake_batches.created_at IS 'When the objects were assigned to the batch.';
COMMENT ON COLUMN ops.lake_batches.converted_at IS 'When the batch finished (null: open, to be redone by the next conversion).';
COMMENT ON COLUMN ops.lake_batches.objects IS 'Objects in the batch.';
COMMENT ON COLUMN ops.lake_batches.input_lines IS 'Lines read from the objects (a trailing newline does not make a line).';
COMMENT ON COLUMN ops.lake_batches.parquet_rows IS 'Rows written to Parquet.';
COMMENT ON COLUMN ops.lake_batches.quarantined_lines IS 'Lines written to the quarantine area with a reason.';
COMMENT ON COLUMN ops.lake_batches.event_dates IS 'Event dates (UTC, from the event time) the batch wrote to.';
COMMENT ON COLUMN ops.lake_batches.files IS 'Lake keys of the Parquet files written.';
COMMENT ON COLUMN ops.lake_batches.schema_drift IS 'Fields seen in the input that the schema does not know (ignored by policy, listed here).';

CREATE TABLE IF NOT EXISTS ops.task_runs (
    id            bigserial   PRIMARY KEY,
    run_id        text        NOT NULL,
    stage         text        NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    duration_s    double precision,
    status        text        NOT NULL CHECK (status IN ('running', 'success', 'failed')),
    objects       bigint,
    rows_in       bigint,
    rows_out      bigint,
    rows_rejected bigint,
    error         text,
    details       jsonb
);
COMMENT ON TABLE ops.task_runs IS 'Audit: one row per task run of any stage.';
COMMENT ON COLUMN ops.task_runs.id IS 'Surrogate key.';
COMMENT ON COLUMN ops.task_runs.run_id IS 'Pipeline run id (Airflow run id or CLI run id).';
COMMENT ON COLUMN ops.task_runs.stage IS 'Stage name, e.g. lake.extract.';
COMMENT ON COLUMN ops.task_runs.started_at IS 'Start time.';
COMMENT ON COLUMN ops.task_runs.finished_at IS 'End time.';
COMMENT ON COLUMN ops.task_runs.duration_s IS 'Duration in seconds.';
COMMENT ON COLUMN ops.task_runs.status IS 'running, success or failed.';
COMMENT ON COLUMN ops.task_runs.objects IS 'Objects handled.';
COMMENT ON COLUMN ops.task_runs.rows_in IS 'Rows or lines read.';
COMMENT ON COLUMN ops.task_runs.rows_out IS 'Rows written.';
COMMENT ON COLUMN ops.task_runs.rows_rejected IS 'Rows quarantined or rejected.';
COMMENT ON COLUMN ops.task_runs.error IS 'Error message of a failed run.';
COMMENT ON COLUMN ops.task_runs.details IS 'Stage-specific figures.';
CREATE INDEX IF NOT EXISTS task_runs_run ON ops.task_runs (run_id, stage);

CREATE TABLE IF NOT EXISTS ops.column_profiles (
    id             bigserial   PRIMARY KEY,
    run_id         text        NOT NULL,
    batch_id       text        NOT NULL,
    chunk          integer     NOT NULL,
    dataset        text        NOT NULL,
    column_name    text        NOT NULL,
    rows           bigint      NOT NULL,
    nulls          bigint      NOT NULL,
    distinct_count bigint,
    min_value      text,
    max_value      text,
    profiled_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (batch_id, chunk, dataset, column_name)
);
COMMENT ON TABLE ops.column_profiles IS 'Profiling: per conversion chunk, dataset and column: rows, nulls, distinct, min, max.';
COMMENT ON COLUMN ops.column_profiles.id IS 'Surrogate key.';
COMMENT ON COLUMN ops.column_profiles.run_id IS 'Run that profiled.';
COMMENT ON COLUMN ops.column_profiles.batch_id IS 'Conversion batch.';
COMMENT ON COLUMN ops.column_profiles.chunk IS 'Chunk of objects within the batch (memory-bounded unit of work).';
COMMENT ON COLUMN ops.column_profiles.dataset IS 'Lake dataset, e.g. vehicle_events.';
COMMENT ON COLUMN ops.column_profiles.column_name IS 'Column profiled.';
COMMENT ON COLUMN ops.column_profiles.rows IS 'Rows in the chunk.';
COMMENT ON COLUMN ops.column_profiles.nulls IS 'Null values.';
COMMENT ON COLUMN ops.column_profiles.distinct_count IS 'Distinct non-null values.';
COMMENT ON COLUMN ops.column_profiles.min_value IS 'Smallest value, as text.';
COMMENT ON COLUMN ops.column_profiles.max_value IS 'Largest value, as text.';
COMMENT ON COLUMN ops.column_profiles.profiled_at IS 'When profiled.';

CREATE TABLE IF NOT EXISTS ops.layer_partitions (
    layer              text        NOT NULL,
    event_date         date        NOT NULL,
    loaded_at          timestamptz NOT NULL,
    run_id             text        NOT NULL,
    rows_in            bigint,
    rows_out           bigint,
    duplicates_removed bigint,
    rejected           bigint,
    expired_at         timestamptz,
    PRIMARY KEY (layer, event_date)
);
-- Tables from before retention marked what it deleted get the column; altered only when it
-- is missing, so every other run takes no lock here.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = 'ops' AND table_name = 'layer_partitions'
                      AND column_name = 'expired_at') THEN
        ALTER TABLE ops.layer_partitions ADD COLUMN expired_at timestamptz;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = 'ops' AND table_name = 'lake_batches'
                      AND column_name = 'expired_at') THEN
        ALTER TABLE ops.lake_batches ADD COLUMN expired_at timestamptz;
    END IF;
END $$;
-- after the DO block: on tables from before it, the column exists only from there
COMMENT ON COLUMN ops.lake_batches.expired_at IS 'When retention deleted the batch''s files, every event date it wrote being past the retention (null: held). Its counts then leave the rows-held figures.';
COMMENT ON TABLE ops.layer_partitions IS 'Last write of each event-date partition per layer (lake, raw, staging, semantic, dwh); a partition whose upstream is newer is rebuilt. Also the per-layer accounting of rows.';
COMMENT ON COLUMN ops.layer_partitions.layer IS 'lake, raw, staging, semantic or dwh.';
COMMENT ON COLUMN ops.layer_partitions.event_date IS 'Event date (UTC) of the partition.';
COMMENT ON COLUMN ops.layer_partitions.loaded_at IS 'When the partition was last replaced.';
COMMENT ON COLUMN ops.layer_partitions.run_id IS 'Run that last replaced it.';
COMMENT ON COLUMN ops.layer_partitions.rows_in IS 'Rows read from the upstream layer for the partition.';
COMMENT ON COLUMN ops.layer_partitions.rows_out IS 'Rows written to the layer for the partition.';
COMMENT ON COLUMN ops.layer_partitions.duplicates_removed IS 'Exact duplicates and re-delivered lines removed (staging).';
COMMENT ON COLUMN ops.layer_partitions.rejected IS 'Rows rejected by a data-quality rule, with their reason kept in the layer.';
COMMENT ON COLUMN ops.layer_partitions.expired_at IS 'When retention deleted the partition''s rows (null: held). The row stays, so the date is not rebuilt and its history is kept, but it leaves the rows-held figures; a new load of the date clears it.';

CREATE TABLE IF NOT EXISTS ops.recorded_accounting (
    outbox_id   uuid        PRIMARY KEY,
    source      text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.recorded_accounting IS 'Staged accountings (<database>.<schema>.unrecorded_accounting) that ops.layer_partitions holds, written in the same transaction, so one is applied once even if the run stops before it is deleted there; the row goes once that delete is done.';
COMMENT ON COLUMN ops.recorded_accounting.outbox_id IS 'unrecorded_accounting.id in the layer''s database.';
COMMENT ON COLUMN ops.recorded_accounting.source IS 'The layer''s database and schema, as database.schema.';
COMMENT ON COLUMN ops.recorded_accounting.recorded_at IS 'When ops.layer_partitions took it.';

CREATE TABLE IF NOT EXISTS ops.dq_results (
    id            bigserial   PRIMARY KEY,
    run_id        text        NOT NULL,
    layer         text        NOT NULL,
    check_name    text        NOT NULL,
    severity      text        NOT NULL CHECK (severity IN ('block', 'warn')),
    status        text        NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
    rows_affected bigint      NOT NULL,
    description   text        NOT NULL,
    sample        jsonb,
    event_dates   date[],
    checked_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.dq_results IS 'Data-quality check results per run and layer; a failed blocking check stops publication to prod.';
COMMENT ON COLUMN ops.dq_results.id IS 'Surrogate key.';
COMMENT ON COLUMN ops.dq_results.run_id IS 'Run that checked.';
COMMENT ON COLUMN ops.dq_results.layer IS 'Layer checked (staging, semantic).';
COMMENT ON COLUMN ops.dq_results.check_name IS 'Check name.';
COMMENT ON COLUMN ops.dq_results.severity IS 'block: failing stops publication; warn: recorded only.';
COMMENT ON COLUMN ops.dq_results.status IS 'pass, warn or fail.';
COMMENT ON COLUMN ops.dq_results.rows_affected IS 'Rows breaking the rule.';
COMMENT ON COLUMN ops.dq_results.description IS 'What the check asserts.';
COMMENT ON COLUMN ops.dq_results.sample IS 'Up to five offending rows.';
COMMENT ON COLUMN ops.dq_results.event_dates IS 'Event dates the checked build covered.';
COMMENT ON COLUMN ops.dq_results.checked_at IS 'When checked.';
CREATE INDEX IF NOT EXISTS dq_results_run ON ops.dq_results (run_id, layer);
