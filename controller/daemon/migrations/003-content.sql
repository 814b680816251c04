-- The content library (content.c): slogans, images, audio and speech.
-- The workflow columns (id .. deleted) are shared with playlists and
-- entries (workflow.h, 004-calendar.sql).  doc_json is the current
-- revision exactly in manifest form (docs/manifest.md §5: id, type, name,
-- text, style, sha256, size, url "/v1/content/<sha256>", mime,
-- duration_ms, gain_db, fit); approved_json the last approved revision,
-- the one publishing compiles.  Rows are never deleted (deleted = 1), so
-- the audit trail keeps its objects.  type and name copy the doc so that
-- lists need no JSON; meta_json holds what was measured of the file and
-- is not part of the manifest: {"width","height"} of an image,
-- {"lufs","channels","rate","generated"} of audio.
CREATE TABLE content (
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
	type TEXT NOT NULL
		CHECK (type IN ('slogan','image','audio','speech')),
	name TEXT NOT NULL DEFAULT '',
	meta_json TEXT
);
CREATE INDEX content_status ON content(status) WHERE deleted = 0;
CREATE INDEX content_type ON content(type) WHERE deleted = 0;
