-- The spine: merchants, orders (with an optimistic version), their
-- append-only event log, and idempotency keys.

-- Timestamps cross the wire as microseconds since the epoch (bigint), so
-- that C++ and PostgreSQL agree exactly. Both helpers are inlined by the planner.
CREATE FUNCTION pe_ts(us bigint) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT timestamptz 'epoch' + us * interval '1 microsecond' $$;
CREATE FUNCTION pe_us(t timestamptz) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;

CREATE TABLE merchants (
  id             text PRIMARY KEY,
  name           text NOT NULL,
  notify_url     text NOT NULL DEFAULT '',
  api_key_hash   text NOT NULL UNIQUE,  -- sha256 hex of the api key; the key itself is never stored
  webhook_secret text NOT NULL,
  created_at     timestamptz NOT NULL
);

CREATE TABLE orders (
  id                text PRIMARY KEY,
  merchant_id       text NOT NULL REFERENCES merchants (id),
  merchant_order_no text NOT NULL,
  amount            bigint NOT NULL CHECK (amount BETWEEN 1 AND 1000000000000),
  currency          text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  subject           text NOT NULL,
  channel           text NOT NULL,
  status            smallint NOT NULL CHECK (status BETWEEN 1 AND 9),
  amount_refunded   bigint NOT NULL DEFAULT 0,
  notify_url        text NOT NULL DEFAULT '',
  customer_phone    text NOT NULL DEFAULT '',
  metadata          jsonb NOT NULL DEFAULT '{}',
  payment_attempt   integer NOT NULL DEFAULT 0,
  channel_trade_no  text NOT NULL DEFAULT '',
  qr_code           text NOT NULL DEFAULT '',
  paid_at           timestamptz,
  failure_reason    text NOT NULL DEFAULT '',
  fulfillment_stage smallint NOT NULL DEFAULT 0 CHECK (fulfillment_stage BETWEEN 0 AND 3),
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  expires_at        timestamptz NOT NULL,
  version           bigint NOT NULL CHECK (version >= 1),
  UNIQUE (merchant_id, merchant_order_no),
  CHECK (amount_refunded BETWEEN 0 AND amount)
);
CREATE INDEX orders_by_merchant ON orders (merchant_id, created_at DESC, id DESC);
-- Only orders the expiry timer can still move (created, paying, awaiting_payment, failed).
CREATE INDEX orders_expiring ON orders (expires_at) WHERE status IN (1, 2, 3, 5);

CREATE TABLE order_events (
  order_id    text NOT NULL REFERENCES orders (id),
  seq         bigint NOT NULL,          -- the order's version after this event
  type        text NOT NULL,
  from_status smallint,                 -- NULL for the creation
  to_status   smallint NOT NULL,
  at          timestamptz NOT NULL,
  detail      jsonb NOT NULL DEFAULT '{}',
  request_id  text NOT NULL DEFAULT '',
  PRIMARY KEY (order_id, seq)
);

CREATE TABLE idempotency_keys (
  merchant_id   text NOT NULL REFERENCES merchants (id),
  key           text NOT NULL,
  fingerprint   text NOT NULL,          -- sha256 of method, path and body
  status        integer,                -- NULL while the first request is in flight
  response_body text,
  locked_at     timestamptz NOT NULL,
  created_at    timestamptz NOT NULL,
  PRIMARY KEY (merchant_id, key)
);
