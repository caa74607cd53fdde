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
        migrator.registerMigration("v2-approvals") { db in
            try db.execute(
                sql: """
                    CREATE TABLE requests (
                      number INTEGER PRIMARY KEY AUTOINCREMENT,
                      host TEXT NOT NULL,
                      id TEXT NOT NULL,
                      thread_id TEXT NOT NULL,
                      created_at REAL NOT NULL,
                      deadline_at REAL NOT NULL,
                      expires_at REAL NOT NULL,
                      received_at REAL NOT NULL,
                      tier TEXT NOT NULL CHECK (tier IN ('steer', 'continue', 'expand', 'commit')),
                      policy_verdict TEXT NOT NULL CHECK (policy_verdict IN ('allow', 'ask', 'deny')),
                      rule TEXT,
                      rule_source TEXT,
                      policy_reason TEXT NOT NULL,
                      missing_evidence TEXT NOT NULL DEFAULT '[]',
                      evidence TEXT NOT NULL,
                      status TEXT NOT NULL
                        CHECK (status IN ('pending', 'allowed', 'denied', 'expired', 'cancelled')),
                      decision TEXT,
                      decided_by TEXT,
                      decided_at REAL,
                      channel TEXT,
                      note TEXT,
                      local INTEGER NOT NULL DEFAULT 0 CHECK (local IN (0, 1)),
                      UNIQUE (host, id)
                    );
                    CREATE INDEX requests_pending ON requests(status, expires_at);
                    CREATE TABLE reviews (
                      request_number INTEGER NOT NULL REFERENCES requests(number),
                      operator TEXT NOT NULL,
                      channel TEXT NOT NULL,
                      vote TEXT NOT NULL CHECK (vote IN ('approve', 'deny')),
                      note TEXT,
                      at REAL NOT NULL,
                      UNIQUE (request_number, operator)
                    );
                    CREATE TABLE outbox (
                      id INTEGER PRIMARY KEY AUTOINCREMENT,
                      host TEXT NOT NULL,
                      kind TEXT NOT NULL,
                      request_id TEXT,
                      payload TEXT NOT NULL,
                      created_at REAL NOT NULL,
                      delivered_at REAL
                    );
                    CREATE INDEX outbox_undelivered ON outbox(host, delivered_at);
                    CREATE TABLE outcomes (
                      host TEXT NOT NULL,
                      thread_id TEXT NOT NULL,
                      request_id TEXT,
                      tool TEXT NOT NULL,
                      command TEXT,
                      exit_code INTEGER,
                      finished_at REAL NOT NULL
                    );
                    CREATE TABLE audit (
                      seq INTEGER PRIMARY KEY,
                      at TEXT NOT NULL,
                      actor TEXT NOT NULL,
                      channel TEXT NOT NULL,
                      host TEXT NOT NULL,
                      kind TEXT NOT NULL,
                      details TEXT NOT NULL,
                      prev_hash TEXT NOT NULL,
                      hash TEXT NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v3-steer-breakers") { db in
            try db.execute(
                sql: """
                    CREATE TABLE steer_messages (
                      id TEXT PRIMARY KEY NOT NULL,
                      host TEXT NOT NULL,
                      thread_id TEXT NOT NULL,
                      text TEXT NOT NULL,
                      from_operator TEXT NOT NULL,
                      channel TEXT NOT NULL,
                      created_at REAL NOT NULL,
                      delivered_at REAL
                    );
                    CREATE INDEX steer_by_thread ON steer_messages(host, thread_id);
                    CREATE TABLE breakers (
                      id TEXT PRIMARY KEY NOT NULL,
                      reason TEXT NOT NULL,
                      hard INTEGER NOT NULL CHECK (hard IN (0, 1)),
                      created_by TEXT NOT NULL,
                      created_at REAL NOT NULL,
                      released_by TEXT,
                      released_at REAL
                    );
                    """)
        }
        migrator.registerMigration("v4-hook-coverage") { db in
            // What the host says of its agent hooks (`hello`), and when a hook first passed for a thread.
            try db.execute(
                sql: """
                    ALTER TABLE hosts ADD COLUMN hooks TEXT;
                    ALTER TABLE threads ADD COLUMN hooked_at REAL;
                    """)
        }
        migrator.registerMigration("v5-host-usage") { db in
            // What each host has stored (counts and bytes), kept by triggers in the same transactions,
            // so per-host bounds (bosund.toml [links] max_*_per_host) are checked without scanning.
            try db.execute(
                sql: """
                    CREATE TABLE host_usage (
                      host TEXT PRIMARY KEY NOT NULL,
                      threads INTEGER NOT NULL DEFAULT 0,
                      requests INTEGER NOT NULL DEFAULT 0,
                      outcomes INTEGER NOT NULL DEFAULT 0,
                      bytes INTEGER NOT NULL DEFAULT 0
                    );
                    INSERT OR IGNORE INTO host_usage (host)
                      SELECT host FROM threads UNION SELECT host FROM requests UNION SELECT host FROM outcomes;
                    UPDATE host_usage SET
                      threads = (SELECT COUNT(*) FROM threads t WHERE t.host = host_usage.host),
                      requests = (SELECT COUNT(*) FROM requests r WHERE r.host = host_usage.host),
                      outcomes = (SELECT COUNT(*) FROM outcomes o WHERE o.host = host_usage.host),
                      bytes = (SELECT COALESCE(SUM(length(CAST(t.argv AS BLOB)) + length(CAST(t.cwd AS BLOB)) + COALESCE(length(CAST(t.title AS BLOB)), 0) + COALESCE(length(CAST(t.repo AS BLOB)), 0) + COALESCE(length(CAST(t.branch AS BLOB)), 0)), 0) FROM threads t WHERE t.host = host_usage.host)
                        + (SELECT COALESCE(SUM(length(CAST(r.evidence AS BLOB)) + COALESCE(length(CAST(r.decision AS BLOB)), 0)), 0) FROM requests r WHERE r.host = host_usage.host)
                        + (SELECT COALESCE(SUM(length(CAST(o.tool AS BLOB)) + COALESCE(length(CAST(o.command AS BLOB)), 0)), 0) FROM outcomes o WHERE o.host = host_usage.host);
                    CREATE TRIGGER host_usage_thread_insert AFTER INSERT ON threads BEGIN
                      INSERT OR IGNORE INTO host_usage (host) VALUES (NEW.host);
                      UPDATE host_usage SET threads = threads + 1, bytes = bytes + length(CAST(NEW.argv AS BLOB)) + length(CAST(NEW.cwd AS BLOB)) + COALESCE(length(CAST(NEW.title AS BLOB)), 0) + COALESCE(length(CAST(NEW.repo AS BLOB)), 0) + COALESCE(length(CAST(NEW.branch AS BLOB)), 0) WHERE host = NEW.host;
                    END;
                    CREATE TRIGGER host_usage_thread_update AFTER UPDATE ON threads BEGIN
                      UPDATE host_usage SET bytes = bytes + length(CAST(NEW.argv AS BLOB)) + length(CAST(NEW.cwd AS BLOB)) + COALESCE(length(CAST(NEW.title AS BLOB)), 0) + COALESCE(length(CAST(NEW.repo AS BLOB)), 0) + COALESCE(length(CAST(NEW.branch AS BLOB)), 0) - (length(CAST(OLD.argv AS BLOB)) + length(CAST(OLD.cwd AS BLOB)) + COALESCE(length(CAST(OLD.title AS BLOB)), 0) + COALESCE(length(CAST(OLD.repo AS BLOB)), 0) + COALESCE(length(CAST(OLD.branch AS BLOB)), 0)) WHERE host = NEW.host;
                    END;
                    CREATE TRIGGER host_usage_thread_delete AFTER DELETE ON threads BEGIN
                      UPDATE host_usage SET threads = threads - 1, bytes = bytes - (length(CAST(OLD.argv AS BLOB)) + length(CAST(OLD.cwd AS BLOB)) + COALESCE(length(CAST(OLD.title AS BLOB)), 0) + COALESCE(length(CAST(OLD.repo AS BLOB)), 0) + COALESCE(length(CAST(OLD.branch AS BLOB)), 0)) WHERE host = OLD.host;
                    END;
                    CREATE TRIGGER host_usage_request_insert AFTER INSERT ON requests BEGIN
                      INSERT OR IGNORE INTO host_usage (host) VALUES (NEW.host);
                      UPDATE host_usage SET requests = requests + 1, bytes = bytes + length(CAST(NEW.evidence AS BLOB)) + COALESCE(length(CAST(NEW.decision AS BLOB)), 0) WHERE host = NEW.host;
                    END;
                    CREATE TRIGGER host_usage_request_update AFTER UPDATE ON requests BEGIN
                      UPDATE host_usage SET bytes = bytes + length(CAST(NEW.evidence AS BLOB)) + COALESCE(length(CAST(NEW.decision AS BLOB)), 0) - (length(CAST(OLD.evidence AS BLOB)) + COALESCE(length(CAST(OLD.decision AS BLOB)), 0)) WHERE host = NEW.host;
                    END;
                    CREATE TRIGGER host_usage_request_delete AFTER DELETE ON requests BEGIN
                      UPDATE host_usage SET requests = requests - 1, bytes = bytes - (length(CAST(OLD.evidence AS BLOB)) + COALESCE(length(CAST(OLD.decision AS BLOB)), 0)) WHERE host = OLD.host;
                    END;
                    CREATE TRIGGER host_usage_outcome_insert AFTER INSERT ON outcomes BEGIN
                      INSERT OR IGNORE INTO host_usage (host) VALUES (NEW.host);
                      UPDATE host_usage SET outcomes = outcomes + 1, bytes = bytes + length(CAST(NEW.tool AS BLOB)) + COALESCE(length(CAST(NEW.command AS BLOB)), 0) WHERE host = NEW.host;
                    END;
                    CREATE TRIGGER host_usage_outcome_delete AFTER DELETE ON outcomes BEGIN
                      UPDATE host_usage SET outcomes = outcomes - 1, bytes = bytes - (length(CAST(OLD.tool AS BLOB)) + COALESCE(length(CAST(OLD.command AS BLOB)), 0)) WHERE host = OLD.host;
                    END;
                    CREATE INDEX requests_by_host ON requests(host, status, number);
                    CREATE INDEX outcomes_by_host ON outcomes(host, finished_at);
                    CREATE INDEX threads_by_host_activity ON threads(host, state, last_activity);
                    """)
        }
        migrator.registerMigration("v6-thread-stopped") { db in
            // A hard pause that took effect (the host SIGSTOPped the thread): `paused` plus this.
            try db.execute(sql: "ALTER TABLE threads ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v7-request-truncation") { db in
            // A request whose action the host cut to fit the link: the whole action's length and digest.
            try db.execute(
                sql: """
                    ALTER TABLE requests ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE requests ADD COLUMN action_sha256 TEXT;
                    ALTER TABLE requests ADD COLUMN action_bytes INTEGER;
                    """)
        }
        migrator.registerMigration("v8-thread-lookups") { db in
            // Short references (`pause 3fa2`) are an id-prefix range over threads_by_id; listings
            // (all, or `--host H`) read threads in order from threads_by_host_start, unsorted.
            try db.execute(
                sql: """
                    CREATE INDEX threads_by_id ON threads(id);
                    CREATE INDEX threads_by_host_start ON threads(host, started_at, id);
                    """)
        }
        migrator.registerMigration("v9-request-views") { db in
            // What each operator last saw of a request (`show N`): the digest of its action, cwd,
            // HEAD and changed files. `approve` refuses when the request's evidence no longer matches.
            // And `steer cancel`: a steering message taken back before its host received it.
            try db.execute(
                sql: """
                    CREATE TABLE request_views (
                      request_number INTEGER NOT NULL REFERENCES requests(number),
                      operator TEXT NOT NULL,
                      digest TEXT NOT NULL,
                      at REAL NOT NULL,
                      PRIMARY KEY (request_number, operator)
                    );
                    ALTER TABLE steer_messages ADD COLUMN cancelled_at REAL;
                    """)
        }
        migrator.registerMigration("v10-outbox-message-id") { db in
            // The outbox keys a message by the id its host applies it once by: a decision's request
            // id, a steering message's id. (It was called request_id, and held steer ids too.)
            try db.execute(sql: "ALTER TABLE outbox RENAME COLUMN request_id TO message_id")
        }
        migrator.registerMigration("v11-host-helper-version") { db in
            // The bosun-host release each host last said hello with.
            try db.execute(sql: "ALTER TABLE hosts ADD COLUMN helper_version TEXT")
        }
        migrator.registerMigration("v12-review-analytics") { db in
            // Review analytics (`stats`, `policy suggest|replay`, `export evalset`): requests by time
            // and by thread, an approved request's outcome by its id, and operators' incident /
            // near-miss marks.
            try db.execute(
                sql: """
                    CREATE INDEX requests_by_created ON requests(created_at);
                    CREATE INDEX requests_by_thread ON requests(host, thread_id, created_at);
                    CREATE INDEX outcomes_by_request ON outcomes(host, request_id, finished_at);
                    CREATE TABLE request_marks (
                      id INTEGER PRIMARY KEY AUTOINCREMENT,
                      request_number INTEGER NOT NULL REFERENCES requests(number),
                      kind TEXT NOT NULL CHECK (kind IN ('incident', 'near-miss')),
                      text TEXT NOT NULL,
                      operator TEXT NOT NULL,
                      channel TEXT NOT NULL,
                      at REAL NOT NULL
                    );
                    CREATE INDEX request_marks_by_request ON request_marks(request_number);
                    """)
        }
        return migrator
    }
}
