-- semantic model table dim_date, created in schema {schema}.
CREATE TABLE IF NOT EXISTS {schema}.dim_date (
    date_key    integer PRIMARY KEY,
    date        date    NOT NULL UNIQUE,
    year        integer NOT NULL,
    month       integer NOT NULL,
    day         integer NOT NULL,
    iso_weekday integer NOT NULL,
    month_start date    NOT NULL
);
COMMENT ON TABLE {schema}.dim_date IS 'Calendar (UTC) covering every event and period date.';
COMMENT ON COLUMN {schema}.dim_date.date_key IS 'yyyymmdd.';
COMMENT ON COLUMN {schema}.dim_date.date IS 'The date.';
COMMENT ON COLUMN {schema}.dim_date.year IS 'Year.';
COMMENT ON COLUMN {schema}.dim_date.month IS 'Month 1-12.';
COMMENT ON COLUMN {schema}.dim_date.day IS 'Day of month.';
COMMENT ON COLUMN {schema}.dim_date.iso_weekday IS 'ISO weekday, 1 = Monday.';
COMMENT ON COLUMN {schema}.dim_date.month_start IS 'First day of the month.';
