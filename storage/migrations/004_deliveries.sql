-- Deliveries in progress are leased (one notifier takes them at a time; a
-- crashed one's lease is cleared at start-up), and every attempt is kept.

ALTER TABLE outbox ADD COLUMN leased_until timestamptz;
ALTER TABLE outbox ADD COLUMN delivered_at timestamptz;

CREATE TABLE delivery_attempts (
  outbox_id   text NOT NULL REFERENCES outbox (id),
  attempt     integer NOT NULL,
  at          timestamptz NOT NULL,
  status_code integer NOT NULL,         -- 0: no HTTP answer
  latency_ms  integer NOT NULL,
  error       text NOT NULL DEFAULT '',
  PRIMARY KEY (outbox_id, attempt)
);
