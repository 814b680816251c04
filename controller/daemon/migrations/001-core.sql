-- The core: people, their credentials, the audit log, settings and the
-- blob store's index.  Times are UTC epoch milliseconds (_ms).

-- People.  roles is a bit set (auth.h: 1 editor, 2 approver, 4 technician,
-- 8 admin); password_hash is a libsodium argon2id string.
CREATE TABLE users (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	display_name TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL,
	roles INTEGER NOT NULL DEFAULT 0 CHECK (roles BETWEEN 0 AND 15),
	disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	created_ms INTEGER NOT NULL,
	updated_ms INTEGER NOT NULL DEFAULT 0
);

-- Browser sessions.  Only the SHA-256 of the cookie value is stored, so a
-- stolen database does not hand out live sessions.  expires_ms slides.
CREATE TABLE sessions (
	token_sha256 TEXT PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	csrf TEXT NOT NULL,
	created_ms INTEGER NOT NULL,
	expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_ms);

-- API tokens (minecastctl).  The token itself is shown once; the table
-- keeps its SHA-256 and a prefix to recognise it in lists.
CREATE TABLE api_tokens (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	token_sha256 TEXT NOT NULL UNIQUE,
	prefix TEXT NOT NULL,
	name TEXT NOT NULL DEFAULT '',
	created_ms INTEGER NOT NULL,
	last_used_ms INTEGER,
	expires_ms INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

-- The audit log: append-only.  user_name is copied so that the row still
-- reads after a rename; before/after are JSON documents or NULL.
CREATE TABLE audit (
	id INTEGER PRIMARY KEY,
	at_ms INTEGER NOT NULL,
	user_id INTEGER,
	user_name TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL,
	kind TEXT NOT NULL DEFAULT '',
	object_id TEXT,
	before_json TEXT,
	after_json TEXT
);
CREATE INDEX audit_kind_object ON audit(kind, object_id);
CREATE INDEX audit_at ON audit(at_ms);
CREATE INDEX audit_user ON audit(user_name);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;

-- Small settings documents (fallback, timezone, ...): key → JSON.
CREATE TABLE settings (
	key TEXT PRIMARY KEY,
	value_json TEXT NOT NULL
) WITHOUT ROWID;

-- The blob store's index: one row per stored file (blob.h).
CREATE TABLE blobs (
	sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
	size INTEGER NOT NULL CHECK (size >= 0),
	mime TEXT NOT NULL DEFAULT 'application/octet-stream',
	created_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Failed logins per user name, for the login rate limit.
CREATE TABLE login_failures (
	name TEXT NOT NULL,
	at_ms INTEGER NOT NULL
);
CREATE INDEX login_failures_name ON login_failures(name, at_ms);
