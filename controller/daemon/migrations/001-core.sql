-- STUB: the core owner writes users, sessions, api_tokens, audit,
-- settings and blobs here.
CREATE TABLE users (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);
