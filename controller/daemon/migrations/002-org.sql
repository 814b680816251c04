-- The organisation: group → company → site → node, and node tags.
-- Ids follow the protocol's id rule ([A-Za-z0-9._-]{1,64}); names are
-- free Vietnamese text for people.
CREATE TABLE groups (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL DEFAULT '',
	created_ms INTEGER NOT NULL
);
CREATE TABLE companies (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL DEFAULT '',
	group_id TEXT REFERENCES groups(id) ON DELETE RESTRICT,
	created_ms INTEGER NOT NULL
);
CREATE TABLE sites (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL DEFAULT '',
	company_id TEXT REFERENCES companies(id) ON DELETE RESTRICT,
	timezone TEXT NOT NULL DEFAULT 'Asia/Ho_Chi_Minh',
	created_ms INTEGER NOT NULL
);
CREATE TABLE nodes (
	id TEXT PRIMARY KEY,             -- node id = MQTT user name and client id
	name TEXT NOT NULL DEFAULT '',   -- "Màn hình nhà ăn ca 1"
	site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE RESTRICT,
	secret_sha256 TEXT,              -- SHA-256 hex of the MQTT/HTTP password; NULL = not provisioned
	provisioned_ms INTEGER,          -- when credentials were last made
	created_ms INTEGER NOT NULL
);
CREATE INDEX nodes_site ON nodes(site_id);
CREATE TABLE node_tags (
	node_id TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
	tag TEXT NOT NULL,
	PRIMARY KEY (node_id, tag)
) WITHOUT ROWID;
CREATE INDEX node_tags_tag ON node_tags(tag);
