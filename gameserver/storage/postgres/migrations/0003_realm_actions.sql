-- Same version and meaning as the SQLite migration 0003.
-- Realm-wide actions: mail, auctions, friends and ignore lists, guilds.
-- Gold and items never sit in two places: an item outside a character is one row of
-- held_items (the uid is the primary key), held by one mail or one auction.
-- Times are integer milliseconds of the realm clock.
CREATE TABLE mail (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT    NOT NULL,
    sender_id     BIGINT REFERENCES characters (id),
    sender_name   TEXT    NOT NULL,
    recipient_id  BIGINT NOT NULL REFERENCES characters (id),
    subject       TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    gold          BIGINT  NOT NULL DEFAULT 0 CHECK (gold >= 0),
    cod           BIGINT  NOT NULL DEFAULT 0 CHECK (cod >= 0),
    sent_at_ms    BIGINT  NOT NULL,
    expires_at_ms BIGINT,
    returned      BOOLEAN NOT NULL DEFAULT FALSE,
    is_read       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX mail_recipient ON mail (recipient_id, id);
CREATE INDEX mail_expires ON mail (expires_at_ms) WHERE expires_at_ms IS NOT NULL;

CREATE TABLE auctions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seller_id     BIGINT NOT NULL REFERENCES characters (id),
    seller_name   TEXT    NOT NULL,
    item_id       BIGINT  NOT NULL,
    item_count    BIGINT  NOT NULL CHECK (item_count >= 1),
    item_name     TEXT    NOT NULL,
    name_key      TEXT    NOT NULL,
    item_level    BIGINT  NOT NULL DEFAULT 0,
    quality       BIGINT  NOT NULL DEFAULT 0,
    start_bid     BIGINT  NOT NULL CHECK (start_bid >= 1),
    buyout        BIGINT  NOT NULL DEFAULT 0 CHECK (buyout >= 0),
    bid           BIGINT  NOT NULL DEFAULT 0 CHECK (bid >= 0),
    bidder_id     BIGINT REFERENCES characters (id),
    deposit       BIGINT  NOT NULL DEFAULT 0 CHECK (deposit >= 0),
    created_at_ms BIGINT  NOT NULL,
    ends_at_ms    BIGINT  NOT NULL
);
CREATE INDEX auctions_ends ON auctions (ends_at_ms);
CREATE INDEX auctions_item ON auctions (item_id);
CREATE INDEX auctions_seller ON auctions (seller_id);

CREATE TABLE held_items (
    uid         TEXT    PRIMARY KEY,
    holder_kind TEXT    NOT NULL CHECK (holder_kind IN ('mail', 'auction')),
    holder_id   BIGINT  NOT NULL,
    position    BIGINT  NOT NULL,
    item_id     BIGINT  NOT NULL,
    count       BIGINT  NOT NULL CHECK (count >= 1)
);
CREATE INDEX held_items_holder ON held_items (holder_kind, holder_id);

-- Gold that left the economy on purpose (auction deposits kept, auction house cuts).
CREATE TABLE economy_sinks (
    kind   TEXT    PRIMARY KEY,
    amount BIGINT  NOT NULL
);

CREATE TABLE relations (
    owner_id      BIGINT NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('friend', 'ignore')),
    other_id      BIGINT NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    created_at_ms BIGINT  NOT NULL,
    PRIMARY KEY (owner_id, kind, other_id)
);
CREATE INDEX relations_other ON relations (other_id, kind);

CREATE TABLE guilds (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT    NOT NULL,
    name_key      TEXT    NOT NULL UNIQUE,
    leader_id     BIGINT NOT NULL REFERENCES characters (id),
    motd          TEXT    NOT NULL DEFAULT '',
    created_at_ms BIGINT  NOT NULL
);

CREATE TABLE guild_ranks (
    guild_id    BIGINT NOT NULL REFERENCES guilds (id) ON DELETE CASCADE,
    rank        BIGINT  NOT NULL,
    name        TEXT    NOT NULL,
    permissions BIGINT  NOT NULL,
    PRIMARY KEY (guild_id, rank)
);

CREATE TABLE guild_members (
    character_id BIGINT PRIMARY KEY REFERENCES characters (id) ON DELETE CASCADE,
    guild_id     BIGINT NOT NULL REFERENCES guilds (id) ON DELETE CASCADE,
    rank         BIGINT  NOT NULL,
    joined_at_ms BIGINT  NOT NULL
);
CREATE INDEX guild_members_guild ON guild_members (guild_id);
