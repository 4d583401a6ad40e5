-- Accounts and characters: what the gateway and the RWAM need to log a player in.
-- Same version numbers and meaning as the SQLite migrations; names are unique through a
-- `*_key` column (the casefolded name, computed by the application) so both databases
-- agree on which names collide.
CREATE TABLE accounts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT        NOT NULL,
    username_key  TEXT        NOT NULL UNIQUE,
    password_hash TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    banned        BOOLEAN     NOT NULL DEFAULT FALSE
);

CREATE TABLE characters (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT      NOT NULL REFERENCES accounts (id),
    name       TEXT        NOT NULL,
    name_key   TEXT        NOT NULL UNIQUE,
    race       TEXT        NOT NULL,
    char_class TEXT        NOT NULL,
    faction    TEXT        NOT NULL,
    state      JSONB       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    saved_at   TIMESTAMPTZ NOT NULL,
    save_fence BIGINT      NOT NULL DEFAULT 0
);
