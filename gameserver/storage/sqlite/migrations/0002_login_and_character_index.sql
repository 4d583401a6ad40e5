-- The character screen lists an account's characters on every login: index it.
-- `last_login_at` lets the gateway show "last seen" and prune idle accounts.
ALTER TABLE accounts ADD COLUMN last_login_at TEXT;
CREATE INDEX characters_account_id ON characters (account_id);
