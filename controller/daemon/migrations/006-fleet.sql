-- The fleet (fleet.c, commands.c, reports.c): what every node says about
-- itself, its proof of play, the commands sent to it and its screenshots.

-- The live view of a node, from its retained state and its health.  A
-- node that never spoke has no row ("never seen").
CREATE TABLE node_live (
	node_id TEXT PRIMARY KEY REFERENCES nodes(id) ON DELETE CASCADE,
	online INTEGER NOT NULL DEFAULT 0,   -- last state said online
	online_ms INTEGER,                   -- controller clock: came online
	offline_ms INTEGER,                  -- controller clock: went offline
	boot INTEGER NOT NULL DEFAULT 0,     -- the player's boot counter
	applied_version INTEGER NOT NULL DEFAULT 0, -- pointer version applied
	applied_ms INTEGER,                  -- controller clock: applied_version last changed
	sync TEXT,                           -- idle | syncing | error
	items_outstanding INTEGER NOT NULL DEFAULT 0,
	bytes_outstanding INTEGER NOT NULL DEFAULT 0,
	software TEXT,                       -- player version string
	state_ms INTEGER,                    -- controller clock: last state received
	state_at_ms INTEGER,                 -- node clock: the state's at_ms
	health_json TEXT,                    -- the last health message (as parsed, re-dumped)
	health_ms INTEGER,                   -- controller clock: last health received
	-- what the status needs from the last health, so that listing the
	-- fleet parses no JSON
	cpu_temp_c REAL,                     -- NULL: the board has no sensor
	disk_free_bytes INTEGER,
	disk_total_bytes INTEGER,
	throttled INTEGER,                   -- Pi get_throttled bits; -1 n/a
	clock_synced INTEGER,
	clock_offset_ms REAL
) WITHOUT ROWID;

-- Proof of play: one row per record, idempotent by the node's record id
-- (keyed with the node, so that no node can pre-empt another's ids).
-- site_id is denormalised (the node's site when the record arrived) so
-- that reports neither join nor change when a node moves; no foreign
-- keys, since the history outlives nodes and content.
CREATE TABLE pop (
	node_id TEXT NOT NULL,
	id TEXT NOT NULL,                -- "<node>-<boot>-<seq>", unique forever
	site_id TEXT NOT NULL,
	content_id TEXT NOT NULL,
	sha256 TEXT,                     -- NULL for slogans and speech
	entry_id TEXT,                   -- NULL for fallback
	channel TEXT NOT NULL CHECK (channel IN ('screen','speaker')),
	start_ms INTEGER NOT NULL,
	end_ms INTEGER NOT NULL,
	completed INTEGER NOT NULL,      -- 0: interrupted
	count INTEGER NOT NULL,          -- > 1: a summary of many plays
	received_ms INTEGER NOT NULL,    -- controller clock
	PRIMARY KEY (node_id, id)
) WITHOUT ROWID;
CREATE INDEX pop_start ON pop(start_ms);

-- Commands sent to nodes and their results.
CREATE TABLE commands (
	id TEXT PRIMARY KEY,             -- "cmd-<random>", the correlation id
	node_id TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
	action TEXT NOT NULL,            -- resync | identify | screenshot | ...
	args_json TEXT,                  -- {"volume": 70} / {"power_on": false}
	user_id INTEGER,                 -- who sent it (users.id)
	issued_ms INTEGER NOT NULL,
	expires_ms INTEGER NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('pending','sent','ok','failed','expired')),
	                                 -- pending: signed, the broker has not taken it yet
	message TEXT,                    -- the node's message, or why not sent
	result_ms INTEGER,               -- controller clock: result received
	envelope TEXT NOT NULL           -- the signed command, re-sent while pending
) WITHOUT ROWID;
CREATE INDEX commands_node ON commands(node_id, issued_ms);
CREATE INDEX commands_open ON commands(expires_ms) WHERE status IN ('sent','pending');

-- Screenshots uploaded by nodes; the PNG is <shot_dir>/<node>/<id>.png.
CREATE TABLE screenshots (
	id TEXT PRIMARY KEY,             -- "shot-<random>"
	node_id TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
	command_id TEXT,                 -- the screenshot command, if named
	size INTEGER NOT NULL,
	sha256 TEXT NOT NULL,
	width INTEGER,
	height INTEGER,
	created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX screenshots_node ON screenshots(node_id, created_ms);
