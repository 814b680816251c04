-- Publishing and urgent alerts (publish.c, alerts.c).
--
-- A publish compiles one manifest per distinct audience (stored once in
-- the blob store, recorded in manifests) and a signed pointer per node
-- (node_desired).  An alert is one signed retained message for the whole
-- fleet; alert_nodes tracks the acknowledgements of every node its
-- targets selected when it was sent.

-- Every publish, for GET /v1/publishes and the audit trail.
CREATE TABLE publishes (
	id INTEGER PRIMARY KEY,
	at_ms INTEGER NOT NULL,          -- when it started
	user_id INTEGER,                 -- who asked; NULL = the controller (tick)
	force INTEGER NOT NULL DEFAULT 0,-- 1: every pointer was re-signed
	nodes INTEGER NOT NULL,          -- nodes considered
	changed INTEGER NOT NULL,        -- pointers signed
	manifests INTEGER NOT NULL,      -- distinct manifests
	manifests_new INTEGER NOT NULL,  -- of which not stored before
	skipped_json TEXT,               -- entries left out and why (JSON array)
	duration_ms INTEGER NOT NULL DEFAULT 0 -- compile, sign, store, publish
);

-- Compiled manifests; the bytes are the blob of the same sha256.
CREATE TABLE manifests (
	sha256 TEXT PRIMARY KEY,
	size INTEGER NOT NULL,
	created_ms INTEGER NOT NULL,
	publish_id INTEGER REFERENCES publishes(id) ON DELETE SET NULL,
	entries_json TEXT NOT NULL DEFAULT '[]' -- entry ids it holds
) WITHOUT ROWID;

-- What every node should play: its current signed pointer.
CREATE TABLE node_desired (
	node_id TEXT PRIMARY KEY REFERENCES nodes(id) ON DELETE CASCADE,
	version INTEGER NOT NULL,        -- strictly increasing per node
	manifest_sha256 TEXT NOT NULL,
	issued_ms INTEGER NOT NULL,
	expires_ms INTEGER NOT NULL,
	envelope TEXT NOT NULL,          -- the signed envelope as published
	published INTEGER NOT NULL DEFAULT 0, -- 0: MQTT publish pending (tick retries)
	published_ms INTEGER,            -- when the broker took it
	publish_id INTEGER REFERENCES publishes(id) ON DELETE SET NULL
) WITHOUT ROWID;
CREATE INDEX node_desired_pending ON node_desired(published) WHERE published = 0;
CREATE INDEX node_desired_expires ON node_desired(expires_ms);

-- Urgent alerts.  targets_json is what the sender chose (may name groups
-- and companies); the signed envelope carries the wire form.
CREATE TABLE alerts (
	id TEXT PRIMARY KEY,
	seq INTEGER NOT NULL,            -- seq of the last message sent
	alert_seq INTEGER NOT NULL DEFAULT 1, -- seq of the message with the text
	clear_seq INTEGER,               -- seq of the clear; NULL = not cleared
	level TEXT NOT NULL CHECK (level IN ('info','warning','danger','evacuate')),
	text TEXT NOT NULL,
	tone TEXT,
	repeat INTEGER NOT NULL,
	targets_json TEXT,               -- as sent (may name groups, companies); NULL = the whole fleet
	wire_targets_json TEXT NOT NULL, -- the signed form: {"sites","tags","nodes"}
	start_at_ms INTEGER NOT NULL,
	issued_ms INTEGER NOT NULL,
	expires_ms INTEGER NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('active','cleared','expired')),
	envelope TEXT NOT NULL,          -- the last signed envelope (alert or clear)
	published INTEGER NOT NULL DEFAULT 0, -- the broker took envelope
	published_ms INTEGER,
	retained_deleted INTEGER NOT NULL DEFAULT 0, -- empty retained payload sent after expiry
	created_by INTEGER,              -- users.id
	created_ms INTEGER NOT NULL,
	cleared_by INTEGER,
	cleared_ms INTEGER,
	expired_ms INTEGER
);
CREATE INDEX alerts_created ON alerts(created_ms);
CREATE INDEX alerts_live ON alerts(retained_deleted, expires_ms);

-- The nodes an alert was for, and what each acknowledged (controller
-- clock for *_ms of receipt; start_ms is the node's reported start).
CREATE TABLE alert_nodes (
	alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
	node_id TEXT NOT NULL,           -- no FK: the record outlives a node
	delivered_ms INTEGER,            -- "delivered" received
	started_ms INTEGER,              -- "started" received
	start_ms INTEGER,                -- when the node's outputs began
	rejected TEXT,                   -- "rejected": the node's reason
	rejected_ms INTEGER,
	clear_delivered_ms INTEGER,      -- the clear was delivered
	PRIMARY KEY (alert_id, node_id)
) WITHOUT ROWID;
