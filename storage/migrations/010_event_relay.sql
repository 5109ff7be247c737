-- Events on RabbitMQ (API.md v1.1): when the broker confirmed each merchant
-- event (actors/event_relay.cpp). NULL: not published yet; the relay takes
-- those in creation order through the partial index, which holds only the
-- backlog while a broker is configured.
ALTER TABLE merchant_events ADD COLUMN published_at timestamptz;

-- Events written before this migration predate the feature: not published.
UPDATE merchant_events SET published_at = created_at;

CREATE INDEX merchant_events_unpublished ON merchant_events (seq) WHERE published_at IS NULL;
-- An event goes out only after every earlier event of its order.
CREATE INDEX merchant_events_unpublished_by_order ON merchant_events (order_id, seq)
  WHERE published_at IS NULL;
