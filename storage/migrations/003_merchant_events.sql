-- Events for merchants (API.md "Events for merchants") and the
-- transactional outbox that delivers them: both written in the same
-- transaction as the transition that causes them.

CREATE TABLE merchant_events (
  id          text PRIMARY KEY,            -- evt_...
  seq         bigserial UNIQUE,            -- creation order, for GET /v1/events
  merchant_id text NOT NULL REFERENCES merchants (id),
  order_id    text NOT NULL REFERENCES orders (id),
  type        text NOT NULL,               -- order.paid, refund.succeeded, ...
  created_at  timestamptz NOT NULL,
  data        jsonb NOT NULL               -- the order as it was after the event
);
CREATE INDEX merchant_events_by_merchant ON merchant_events (merchant_id, seq);

CREATE TABLE outbox (
  id              text PRIMARY KEY,        -- ntf_...: also the webhook-id
  event_id        text NOT NULL REFERENCES merchant_events (id),
  merchant_id     text NOT NULL,
  kind            smallint NOT NULL,       -- 1 webhook, 2 sms
  target          text NOT NULL DEFAULT '',-- notify_url or phone; '' = the merchant's default URL
  status          smallint NOT NULL,       -- 0 pending, 1 delivered, 2 dead
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_status     integer,
  last_error      text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 0;
