-- The console lists notifications by status, newest first, and counts the
-- pending ones and the dead letters every second: an index for that.
CREATE INDEX outbox_by_status ON outbox (status, created_at DESC);

-- Timestamps built into JSON by SQL read like the API's own (RFC 3339, UTC,
-- milliseconds, "Z"), whatever the server's time zone.
CREATE FUNCTION pe_rfc3339(t timestamptz) RETURNS text
  LANGUAGE sql STABLE STRICT PARALLEL SAFE
  AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
