-- Distance and GPS-jump rules as database functions, so the facts stay set-based SQL.
CREATE SCHEMA IF NOT EXISTS rules;
COMMENT ON SCHEMA rules IS 'Business-rule functions of the semantic model (distance, GPS-jump filter).';

CREATE OR REPLACE FUNCTION rules.haversine_km(
    lat1 double precision, lng1 double precision, lat2 double precision, lng2 double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    -- great-circle distance on a sphere of the mean Earth radius (6371.0088 km)
    SELECT 2 * 6371.0088 * asin(least(1.0, sqrt(
               power(sin(radians(lat2 - lat1) / 2), 2)
             + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lng2 - lng1) / 2), 2))))
$$;
COMMENT ON FUNCTION rules.haversine_km(double precision, double precision, double precision, double precision)
    IS 'Haversine distance in km between two WGS84 points (mean Earth radius 6371.0088 km).';

-- Running state of a vehicle track: {lat, lng, epoch of the last accepted point,
-- accepted (1/0) for the current point, step km, step seconds, accepted points so far}.
CREATE OR REPLACE FUNCTION rules.gps_track_step(
    state double precision[], lat double precision, lng double precision,
    at timestamptz, max_kmh double precision)
RETURNS double precision[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    -- the epoch as a double directly (extract() computes a numeric first)
    t  double precision := date_part('epoch', at);
    a  double precision;
    d  double precision;
    dt double precision;
BEGIN
    IF state IS NULL THEN
        RETURN ARRAY[lat, lng, t, 1, 0, 0, 1];
    END IF;
    -- rules.haversine_km written out: calling a SQL function from PL/pgSQL per row costs
    -- about three times as much (measured), and this runs once per point.
    a  := sin(radians(lat - state[1]) / 2) ^ 2
          + cos(radians(state[1])) * cos(radians(lat)) * sin(radians(lng - state[2]) / 2) ^ 2;
    d  := 2 * 6371.0088 * asin(least(1.0, sqrt(a)));
    dt := t - state[3];
    IF (dt > 0 AND d / dt * 3600.0 > max_kmh) OR (dt <= 0 AND d > 0) THEN
        -- a GPS jump: drop the point, keep measuring from the last accepted one
        RETURN ARRAY[state[1], state[2], state[3], 0, 0, 0, state[7]];
    END IF;
    RETURN ARRAY[lat, lng, t, 1, d, dt, state[7] + 1];
END $$;

CREATE OR REPLACE AGGREGATE rules.gps_track(
    double precision, double precision, timestamptz, double precision) (
    SFUNC = rules.gps_track_step,
    STYPE = double precision[]
);
COMMENT ON AGGREGATE rules.gps_track(double precision, double precision, timestamptz, double precision)
    IS 'Window aggregate over a time-ordered track: per point, whether it is accepted (implied speed from the last accepted point <= max km/h), its step distance from that point, and its number among the accepted points.';
