-- The load log of one layer's schema {schema}: which event dates each load wrote, whole
-- (replace) or by appending rows, and the upstream loads the layer itself has consumed.
-- A downstream layer takes only the loads after its watermark, so a 15-minute run moves
-- 15 minutes of rows. Rows carry the load_seq that wrote them.
CREATE SEQUENCE IF NOT EXISTS {schema}.load_seq;
COMMENT ON SEQUENCE {schema}.load_seq IS 'Numbers this layer''s loads, in commit order per layer lock.';

CREATE TABLE IF NOT EXISTS {schema}.load_log (
    load_seq   bigint      NOT NULL,
    event_date date        NOT NULL,
    mode       text        NOT NULL CHECK (mode IN ('replace', 'append')),
    rows       bigint      NOT NULL,
    run_id     text        NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (load_seq, event_date)
);
COMMENT ON TABLE {schema}.load_log IS 'One row per event date a load wrote: replaced whole, or rows appended (rows stamped with load_seq).';
COMMENT ON COLUMN {schema}.load_log.load_seq IS 'The load, as stamped on the rows it wrote.';
COMMENT ON COLUMN {schema}.load_log.event_date IS 'Event date (UTC) the load wrote.';
COMMENT ON COLUMN {schema}.load_log.mode IS 'replace: the date was rewritten whole; append: rows were added to it.';
COMMENT ON COLUMN {schema}.load_log.rows IS 'Rows the load wrote for the date.';
COMMENT ON COLUMN {schema}.load_log.run_id IS 'Run that made the load.';
COMMENT ON COLUMN {schema}.load_log.loaded_at IS 'When the load committed.';

CREATE TABLE IF NOT EXISTS {schema}.watermarks (
    upstream   text        PRIMARY KEY,
    load_seq   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE {schema}.watermarks IS 'The last upstream load this layer has published, committed with the publish itself.';
COMMENT ON COLUMN {schema}.watermarks.upstream IS 'Upstream load log, as database.schema.';
COMMENT ON COLUMN {schema}.watermarks.load_seq IS 'Highest upstream load_seq already published here.';
COMMENT ON COLUMN {schema}.watermarks.updated_at IS 'When it last moved.';

CREATE TABLE IF NOT EXISTS {schema}.unrecorded_accounting (
    seq        bigserial   PRIMARY KEY,
    id         uuid        NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    layer      text        NOT NULL,
    run_id     text        NOT NULL,
    counts     jsonb       NOT NULL,
    loaded_at  timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE {schema}.unrecorded_accounting IS 'A published load''s per-date accounting, written in its publish transaction and deleted once ops.layer_partitions holds it (ops.recorded_accounting says which were applied): a run that stops between the two loses neither the figures nor the next layer''s cue to rebuild.';
COMMENT ON COLUMN {schema}.unrecorded_accounting.seq IS 'Order of the publishes: recorded oldest first.';
COMMENT ON COLUMN {schema}.unrecorded_accounting.id IS 'The key ops.recorded_accounting keeps (random, so a re-created database never reuses one).';
COMMENT ON COLUMN {schema}.unrecorded_accounting.layer IS 'raw, staging or semantic.';
COMMENT ON COLUMN {schema}.unrecorded_accounting.run_id IS 'Run that published the load.';
COMMENT ON COLUMN {schema}.unrecorded_accounting.counts IS 'Per event date: rows_in, rows_out, duplicates_removed, rejected, and whether the date was appended to (its counts add up) or replaced.';
COMMENT ON COLUMN {schema}.unrecorded_accounting.loaded_at IS 'The time the dates are marked with in ops.layer_partitions: the publish''s start for a layer that reads its upstream by those marks (raw), so an upstream write it did not see stays newer; null: when recorded.';
COMMENT ON COLUMN {schema}.unrecorded_accounting.created_at IS 'When the publish began.';
