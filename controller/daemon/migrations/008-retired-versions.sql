-- Pointer versions outlive their node row.  A player keeps the highest
-- version it applied; if a node is deleted and registered again under the
-- same id, its pointers must still be newer, or the player refuses them
-- as replays.  Deleting a node_desired row (by cascade too) keeps its
-- version here; publishing starts above it.
CREATE TABLE retired_versions (
	node_id TEXT PRIMARY KEY,
	version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER node_desired_retire AFTER DELETE ON node_desired
BEGIN
	INSERT INTO retired_versions (node_id, version)
	VALUES (old.node_id, old.version)
	ON CONFLICT (node_id) DO UPDATE
	SET version = max(version, excluded.version);
END;
