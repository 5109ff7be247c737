-- Stored-value wallets (API.md v1.1 "Wallets") on a double-entry ledger,
-- modelled on TigerBeetle's: accounts carry four sums, transfers are
-- immutable (one debit, one credit), two-phase transfers are a pending
-- transfer followed by exactly one post or void that names it.

CREATE TABLE ledger_accounts (
  id              text PRIMARY KEY,   -- wal_... | clr_<channel>_<currency> | pay_<merchant>_<currency>
  kind            smallint NOT NULL CHECK (kind IN (1, 2, 3)), -- 1 wallet, 2 channel clearing, 3 merchant payable
  merchant_id     text NOT NULL DEFAULT '',
  currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  debits_posted   bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
  credits_posted  bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
  debits_pending  bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
  credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
  -- Wallets only: whose balance it is, and the wallet actor's optimistic version.
  customer_ref    text NOT NULL DEFAULT '',
  customer_phone  text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  version         bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
  -- Even a bug cannot overdraw a wallet: what is posted out and reserved
  -- never exceeds what came in.
  CONSTRAINT wallet_never_overdrawn
    CHECK (kind <> 1 OR credits_posted - debits_posted - debits_pending >= 0)
);
CREATE UNIQUE INDEX wallets_by_customer ON ledger_accounts (merchant_id, customer_ref, currency)
  WHERE kind = 1;
CREATE INDEX wallets_by_merchant ON ledger_accounts (merchant_id, created_at, id) WHERE kind = 1;

CREATE TABLE ledger_transfers (
  id             text PRIMARY KEY,   -- trf_..., derived from what caused it
  seq            bigserial UNIQUE,   -- write order: a wallet's transactions chain by it
  debit_account  text NOT NULL REFERENCES ledger_accounts (id),
  credit_account text NOT NULL REFERENCES ledger_accounts (id),
  amount         bigint NOT NULL CHECK (amount > 0),
  currency       text NOT NULL,
  phase          smallint NOT NULL CHECK (phase IN (0, 1, 2, 3)), -- 0 single, 1 pending, 2 post, 3 void
  pending_id     text REFERENCES ledger_transfers (id),           -- with post and void
  type           smallint NOT NULL CHECK (type IN (1, 2, 3, 4)),  -- 1 topup, 2 payment, 3 refund, 4 topup_reversal
  wallet_id      text NOT NULL REFERENCES ledger_accounts (id),
  order_id       text NOT NULL DEFAULT '',
  -- As the wallet sees it: the signed change of its posted balance (0 for
  -- pending and void) and its posted balance after it.
  wallet_amount  bigint NOT NULL DEFAULT 0,
  ending_balance bigint NOT NULL,
  wallet_seq     bigint NOT NULL,    -- the wallet's version that wrote it
  timeout_at     timestamptz,        -- pending only: voided after it
  created_at     timestamptz NOT NULL,
  CHECK (debit_account <> credit_account),
  CHECK ((phase IN (2, 3)) = (pending_id IS NOT NULL))
);
-- A pending transfer is posted or voided once.
CREATE UNIQUE INDEX ledger_transfers_one_end ON ledger_transfers (pending_id)
  WHERE pending_id IS NOT NULL;
CREATE INDEX ledger_transfers_by_wallet ON ledger_transfers (wallet_id, seq);
-- Reservations, for the sweep that voids those past their timeout.
CREATE INDEX ledger_reservations ON ledger_transfers (timeout_at) WHERE phase = 1;

-- Orders: a top-up names the wallet it credits; a payment says how it was
-- made (API.md: payment.method, payment.wallet).
ALTER TABLE orders ADD COLUMN topup_wallet text NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN payment_method text NOT NULL DEFAULT ''
  CHECK (payment_method IN ('', 'channel', 'balance'));
ALTER TABLE orders ADD COLUMN payment_wallet text NOT NULL DEFAULT '';
-- For the reconciler: paid top-ups, to find one whose credit is missing.
CREATE INDEX orders_paid_topups ON orders (updated_at)
  WHERE topup_wallet <> '' AND paid_at IS NOT NULL;
