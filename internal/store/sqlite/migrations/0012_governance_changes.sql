-- The governance change log, from which replicas sharing the store keep
-- their in-memory governance index current. Every write to what that index
-- holds (datasets, resource tags, group grants, tag keys) appends one change
-- per row it touches, through the triggers below, in the writing
-- transaction, so no writer can forget it.
--
-- seq comes from the one-row counter governance_version, which each change
-- increments; SQLite runs one write transaction at a time, so seqs are
-- gap-free in commit order: a reader that sees seq N has seen every seq
-- below it. key names what changed: the dataset id, the resource
-- (database, database.table or database.table.column), the grant id or the
-- tag key. Only the newest keep_changes rows are kept: each change deletes
-- the rows that fell out of that window, so a reader that finds the seqs it
-- needs gone reloads everything instead.
CREATE TABLE governance_version (
	id           INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	v            INTEGER NOT NULL,
	keep_changes INTEGER NOT NULL
);

INSERT INTO governance_version (id, v, keep_changes) VALUES (1, 0, 100000);

CREATE TABLE governance_changes (
	seq  INTEGER NOT NULL PRIMARY KEY,
	kind TEXT NOT NULL,
	key  TEXT NOT NULL,
	at   TEXT NOT NULL
);

-- Inserting (kind, key) into this view appends a change: the triggers of
-- the governed tables share its one definition.
CREATE VIEW governance_append AS SELECT kind, key FROM governance_changes;

CREATE TRIGGER governance_append_insert INSTEAD OF INSERT ON governance_append
BEGIN
	UPDATE governance_version SET v = v + 1 WHERE id = 1;
	INSERT INTO governance_changes (seq, kind, key, at)
		SELECT v, NEW.kind, NEW.key, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM governance_version WHERE id = 1;
	DELETE FROM governance_changes WHERE seq <= (SELECT v - keep_changes FROM governance_version WHERE id = 1);
END;

-- Inserting a resource (db, tbl, col) into this view appends a tags change
-- of its key: database[.table[.column]].
CREATE VIEW governance_append_tags AS SELECT db, tbl, col FROM resource_tags;

CREATE TRIGGER governance_append_tags_insert INSTEAD OF INSERT ON governance_append_tags
BEGIN
	INSERT INTO governance_append (kind, key) VALUES ('tags',
		NEW.db || CASE WHEN NEW.tbl = '' THEN '' ELSE '.' || NEW.tbl END || CASE WHEN NEW.col = '' THEN '' ELSE '.' || NEW.col END);
END;

-- An update logs the row's old key and, when the update changed it, its new
-- one (UNION drops the second when they are equal).
CREATE TRIGGER datasets_governance_insert AFTER INSERT ON datasets
BEGIN
	INSERT INTO governance_append (kind, key) VALUES ('dataset', NEW.id);
END;
CREATE TRIGGER datasets_governance_update AFTER UPDATE ON datasets
BEGIN
	INSERT INTO governance_append (kind, key) SELECT 'dataset', OLD.id UNION SELECT 'dataset', NEW.id;
END;
CREATE TRIGGER datasets_governance_delete AFTER DELETE ON datasets
BEGIN
	INSERT INTO governance_append (kind, key) VALUES ('dataset', OLD.id);
END;

CREATE TRIGGER group_grants_governance_insert AFTER INSERT ON group_grants
BEGIN
	INSERT INTO governance_append (kind, key) VALUES ('grant', NEW.id);
END;
CREATE TRIGGER group_grants_governance_update AFTER UPDATE ON group_grants
BEGIN
	INSERT INTO governance_append (kind, key) SELECT 'grant', OLD.id UNION SELECT 'grant', NEW.id;
END;
CREATE TRIGGER group_grants_governance_delete AFTER DELETE ON group_grants
BEGIN
	INSERT INTO governance_append (kind, key) VALUES ('grant', OLD.id);
END;

CREATE TRIGGER tag_keys_governance_insert AFTER INSERT ON tag_keys
BEGIN
	INSERT INTO governance_append (kind, key) VALUES ('tagkey', NEW.key);
END;
CREATE TRIGGER tag_keys_governance_update AFTER UPDATE ON tag_keys
BEGIN
	INSERT INTO governance_append (kind, key) SELECT 'tagkey', OLD.key UNION SELECT 'tagkey', NEW.key;
END;
CREATE TRIGGER tag_keys_governance_delete AFTER DELETE ON tag_keys
BEGIN
	INSERT INTO governance_append (kind, key) VALUES ('tagkey', OLD.key);
END;

CREATE TRIGGER resource_tags_governance_insert AFTER INSERT ON resource_tags
BEGIN
	INSERT INTO governance_append_tags (db, tbl, col) VALUES (NEW.db, NEW.tbl, NEW.col);
END;
CREATE TRIGGER resource_tags_governance_update AFTER UPDATE ON resource_tags
BEGIN
	INSERT INTO governance_append_tags (db, tbl, col) SELECT OLD.db, OLD.tbl, OLD.col UNION SELECT NEW.db, NEW.tbl, NEW.col;
END;
CREATE TRIGGER resource_tags_governance_delete AFTER DELETE ON resource_tags
BEGIN
	INSERT INTO governance_append_tags (db, tbl, col) VALUES (OLD.db, OLD.tbl, OLD.col);
END;
