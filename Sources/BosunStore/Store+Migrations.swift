import GRDB

extension Store {
    /// Schema history. Migrations are append-only: never edit one that has shipped.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-hosts-threads") { db in
            try db.execute(
                sql: """
                    CREATE TABLE hosts (
                      name TEXT PRIMARY KEY NOT NULL,
                      hostname TEXT,
                      host_version TEXT,
                      boot_id TEXT,
                      host_key TEXT,
                      last_seen REAL,
                      rtt_ms REAL
                    );
                    CREATE TABLE threads (
                      host TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,
                      id TEXT NOT NULL,
                      agent TEXT NOT NULL,
                      argv TEXT NOT NULL,
                      cwd TEXT NOT NULL,
                      repo TEXT,
                      branch TEXT,
                      pid INTEGER,
                      state TEXT NOT NULL CHECK (state IN ('running', 'waiting', 'paused', 'idle', 'exited')),
                      started_at REAL NOT NULL,
                      last_activity REAL NOT NULL,
                      title TEXT,
                      session_id TEXT,
                      exit_code INTEGER,
                      stale INTEGER NOT NULL DEFAULT 0 CHECK (stale IN (0, 1)),
                      updated_at REAL NOT NULL,
                      PRIMARY KEY (host, id)
                    );
                    CREATE INDEX threads_by_state ON threads(state);
                    """)
        }
        return migrator
    }
}
