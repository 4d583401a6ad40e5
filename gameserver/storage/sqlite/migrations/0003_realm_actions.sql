-- Realm-wide actions: mail, auctions, friends and ignore lists, guilds.
-- Gold and items never sit in two places: an item outside a character is one row of
-- held_items (the uid is the primary key), held by one mail or one auction.
-- Times are integer milliseconds of the realm clock.
CREATE TABLE mail (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL,
    sender_id     INTEGER REFERENCES characters (id),
    sender_name   TEXT    NOT NULL,
    recipient_id  INTEGER NOT NULL REFERENCES characters (id),
    subject       TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    gold          INTEGER NOT NULL DEFAULT 0 CHECK (gold >= 0),
    cod           INTEGER NOT NULL DEFAULT 0 CHECK (cod >= 0),
    sent_at_ms    INTEGER NOT NULL,
    expires_at_ms INTEGER,
    returned      INTEGER NOT NULL DEFAULT 0,
    is_read       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mail_recipient ON mail (recipient_id, id);
CREATE INDEX mail_expires ON mail (expires_at_ms) WHERE expires_at_ms IS NOT NULL;

CREATE TABLE auctions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    seller_id     INTEGER NOT NULL REFERENCES characters (id),
    seller_name   TEXT    NOT NULL,
    item_id       INTEGER NOT NULL,
    item_count    INTEGER NOT NULL CHECK (item_count >= 1),
    item_name     TEXT    NOT NULL,
    name_key      TEXT    NOT NULL,
    item_level    INTEGER NOT NULL DEFAULT 0,
    quality       INTEGER NOT NULL DEFAULT 0,
    start_bid     INTEGER NOT NULL CHECK (start_bid >= 1),
    buyout        INTEGER NOT NULL DEFAULT 0 CHECK (buyout >= 0),
    bid           INTEGER NOT NULL DEFAULT 0 CHECK (bid >= 0),
    bidder_id     INTEGER REFERENCES characters (id),
    deposit       INTEGER NOT NULL DEFAULT 0 CHECK (deposit >= 0),
    created_at_ms INTEGER NOT NULL,
    ends_at_ms    INTEGER NOT NULL
);
CREATE INDEX auctions_ends ON auctions (ends_at_ms);
CREATE INDEX auctions_item ON auctions (item_id);
CREATE INDEX auctions_seller ON auctions (seller_id);

CREATE TABLE held_items (
    uid         TEXT    PRIMARY KEY,
    holder_kind TEXT    NOT NULL CHECK (holder_kind IN ('mail', 'auction')),
    holder_id   INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    item_id     INTEGER NOT NULL,
    count       INTEGER NOT NULL CHECK (count >= 1)
);
CREATE INDEX held_items_holder ON held_items (holder_kind, holder_id);

-- Gold that left the economy on purpose (auction deposits kept, auction house cuts).
CREATE TABLE economy_sinks (
    kind   TEXT    PRIMARY KEY,
    amount INTEGER NOT NULL
);

CREATE TABLE relations (
    owner_id      INTEGER NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('friend', 'ignore')),
    other_id      INTEGER NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (owner_id, kind, other_id)
);
CREATE INDEX relations_other ON relations (other_id, kind);

CREATE TABLE guilds (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    name_key      TEXT    NOT NULL UNIQUE,
    leader_id     INTEGER NOT NULL REFERENCES characters (id),
    motd          TEXT    NOT NULL DEFAULT '',
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE guild_ranks (
    guild_id    INTEGER NOT NULL REFERENCES guilds (id) ON DELETE CASCADE,
    rank        INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    permissions INTEGER NOT NULL,
    PRIMARY KEY (guild_id, rank)
);

CREATE TABLE guild_members (
    character_id INTEGER PRIMARY KEY REFERENCES characters (id) ON DELETE CASCADE,
    guild_id     INTEGER NOT NULL REFERENCES guilds (id) ON DELETE CASCADE,
    rank         INTEGER NOT NULL,
    joined_at_ms INTEGER NOT NULL
);
CREATE INDEX guild_members_guild ON guild_members (guild_id);
