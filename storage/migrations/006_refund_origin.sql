-- Where a refund comes from, as a number (API.md v1.1 "origin"): 1 merchant,
-- 2 late_payment, 3 duplicate_payment. Until now the engine told its own
-- refunds apart by their reason text, which a merchant could also send.
-- Existing rows are classified by what the text cannot fake: an automatic
-- refund's id is derived from its trade (actors/order_payment.cpp).
ALTER TABLE refunds ADD COLUMN origin smallint NOT NULL DEFAULT 1
  CHECK (origin IN (1, 2, 3));

UPDATE refunds SET origin = CASE WHEN reason = 'late_payment' THEN 2 ELSE 3 END
 WHERE id = 'rfd_' || left(encode(sha256(convert_to('payengine/auto-refund/' || out_trade_no, 'UTF8')), 'hex'), 32);

ALTER TABLE refunds ALTER COLUMN origin DROP DEFAULT;
