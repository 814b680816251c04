-- Playlists and schedule entries (calendar.c), with the workflow columns
-- shared with content (workflow.h, 003-content.sql).  doc_json is the
-- current revision in manifest form (docs/manifest.md §6, §7; an entry's
-- targets may also name "groups" and "companies"); approved_json the last
-- approved revision, the one publishing compiles.  Rows are never deleted
-- (deleted = 1), so the audit trail keeps its objects.  name, channel and
-- priority copy the doc so that lists need no JSON.
CREATE TABLE playlists (
	id TEXT PRIMARY KEY,
	doc_json TEXT NOT NULL,
	approved_json TEXT,
	status TEXT NOT NULL
		CHECK (status IN ('draft','submitted','approved','rejected')),
	rev INTEGER NOT NULL,
	approved_rev INTEGER,
	author_id INTEGER NOT NULL REFERENCES users(id),
	submitted_by INTEGER REFERENCES users(id),
	submitted_ms INTEGER,
	reviewed_by INTEGER REFERENCES users(id),
	reviewed_ms INTEGER,
	reject_reason TEXT,
	created_ms INTEGER NOT NULL,
	updated_ms INTEGER NOT NULL,
	deleted INTEGER NOT NULL DEFAULT 0,
	name TEXT NOT NULL DEFAULT ''
);
CREATE INDEX playlists_status ON playlists(status) WHERE deleted = 0;

CREATE TABLE entries (
	id TEXT PRIMARY KEY,
	doc_json TEXT NOT NULL,
	approved_json TEXT,
	status TEXT NOT NULL
		CHECK (status IN ('draft','submitted','approved','rejected')),
	rev INTEGER NOT NULL,
	approved_rev INTEGER,
	author_id INTEGER NOT NULL REFERENCES users(id),
	submitted_by INTEGER REFERENCES users(id),
	submitted_ms INTEGER,
	reviewed_by INTEGER REFERENCES users(id),
	reviewed_ms INTEGER,
	reject_reason TEXT,
	created_ms INTEGER NOT NULL,
	updated_ms INTEGER NOT NULL,
	deleted INTEGER NOT NULL DEFAULT 0,
	name TEXT NOT NULL DEFAULT '',
	channel TEXT NOT NULL CHECK (channel IN ('screen','speaker')),
	priority INTEGER NOT NULL DEFAULT 50
);
CREATE INDEX entries_status ON entries(status) WHERE deleted = 0;
