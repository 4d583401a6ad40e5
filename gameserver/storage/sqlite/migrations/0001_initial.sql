-- Accounts and characters: what the gateway and the RWAM need to log a player in.
-- Names are unique through a `*_key` column (the casefolded name, computed by the
-- application) so SQLite and PostgreSQL agree on which names collide.
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    banned        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE characters (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL UNIQUE,
    race       TEXT    NOT NULL,
    char_class TEXT    NOT NULL,
    faction    TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    saved_at   TEXT    NOT NULL,
    save_fence INTEGER NOT NULL DEFAULT 0
);
