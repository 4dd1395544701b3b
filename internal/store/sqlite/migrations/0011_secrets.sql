-- Secrets the control plane makes for itself on first use, such as the key
-- of the subject tags in rejects files (value: hex).
CREATE TABLE secrets (
	name  TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
);
