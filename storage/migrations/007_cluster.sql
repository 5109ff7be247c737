-- Several nodes on one database (API.md "Several nodes"): a fixed number of
-- shards, each owned by one node at a time under a lease whose epoch only
-- grows (the fencing token), and the nodes' heartbeats.

-- One row: the shard count, set by the first node that starts, never changed
-- (an order id belongs to shard fnv1a64(id) % shards forever: messages/cluster.cpp).
CREATE TABLE cluster_config (
  id     smallint PRIMARY KEY CHECK (id = 1),
  shards integer NOT NULL CHECK (shards BETWEEN 1 AND 4096)
);

CREATE TABLE cluster_nodes (
  id           text PRIMARY KEY,
  url          text NOT NULL,
  heartbeat_at timestamptz NOT NULL
);

-- owner '' = nobody. Taking a shard bumps its epoch; every write of an order
-- checks its shard's epoch in the same transaction (FOR SHARE).
CREATE TABLE shard_leases (
  shard      integer PRIMARY KEY CHECK (shard >= 0),
  owner      text NOT NULL DEFAULT '',
  epoch      bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0),
  expires_at timestamptz NOT NULL DEFAULT 'epoch'
);

-- The epoch under which each event was written (0: before clustering).
ALTER TABLE order_events ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
