-- Payments through channels: one row per channel trade attempt, every
-- channel notification received (deduplication and audit), refunds.

CREATE TABLE channel_trades (
  out_trade_no     text PRIMARY KEY,      -- <order id>_<attempt>: the channel's idempotency key
  order_id         text NOT NULL REFERENCES orders (id),
  attempt          integer NOT NULL,
  channel          text NOT NULL,
  amount           bigint NOT NULL,
  state            smallint NOT NULL,     -- 0 opening, 1 waiting, 2 succeeded, 3 closed, 4 rejected
  qr_code          text NOT NULL DEFAULT '',
  channel_trade_no text NOT NULL DEFAULT '',
  paid_amount      bigint NOT NULL DEFAULT 0,
  paid_at          timestamptz,
  detail           text NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  UNIQUE (order_id, attempt)
);

CREATE TABLE callbacks (
  channel      text NOT NULL,
  notify_id    text NOT NULL,
  out_trade_no text NOT NULL,
  trade_status text NOT NULL,
  amount       bigint NOT NULL,
  outcome      text NOT NULL,             -- applied, duplicate, amount_mismatch, ignored, ...
  received_at  timestamptz NOT NULL,
  PRIMARY KEY (channel, notify_id)
);

CREATE TABLE refunds (
  id             text PRIMARY KEY,        -- rfd_...: the channel's out_request_no
  order_id       text NOT NULL REFERENCES orders (id),
  out_trade_no   text NOT NULL,
  amount         bigint NOT NULL CHECK (amount > 0),
  reason         text NOT NULL,
  status         smallint NOT NULL,       -- 0 pending, 1 succeeded, 2 failed
  failure_reason text NOT NULL DEFAULT '',
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL
);
CREATE INDEX refunds_by_order ON refunds (order_id, created_at);

-- The reconciler's question: which orders wait on a channel (paying, awaiting_payment)?
CREATE INDEX orders_unsettled ON orders (updated_at) WHERE status IN (2, 3);
