-- A second channel, and routing between channels (API.md v1.1 "Channels:
-- WeChat Pay v3, and routing"). An order's `channel` may now be 'auto'; the
-- channel of its current attempt is `payment_channel`, and the channels an
-- `auto` payment tried before it (comma-separated, oldest first) are
-- `payment_tried`. '' on rows from before: the order's own channel.
-- A refund names the channel of the trade it returns money from ('' on
-- older rows: the order's channel).
ALTER TABLE orders ADD COLUMN payment_channel text NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN payment_tried text NOT NULL DEFAULT '';
ALTER TABLE refunds ADD COLUMN channel text NOT NULL DEFAULT '';
