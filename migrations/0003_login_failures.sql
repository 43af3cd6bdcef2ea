-- 0003_login_failures.sql: failed admin logins, for the login throttle (admin/throttle.c).
-- One row per (account, address): account is the email as typed, lower-cased (an unknown
-- account counts like a known one); address is the client's address as request.c found it.
-- failures counts the failed logins of that pair since the row was last reset; last_at is
-- the newest of them, in seconds since the epoch. A row whose last_at is older than
-- ONEFILE_LOGIN_WINDOW_S no longer counts and is deleted by the next failure's write;
-- `onefile user unlock EMAIL` deletes the account's rows. Only failures are stored: a
-- correct password never depends on what other addresses did, except through this table.
CREATE TABLE login_failures (
    account  TEXT NOT NULL,
    address  TEXT NOT NULL,
    failures INTEGER NOT NULL CHECK (failures > 0),
    last_at  INTEGER NOT NULL,
    PRIMARY KEY (account, address)
) WITHOUT ROWID;
CREATE INDEX login_failures_address ON login_failures(address);
CREATE INDEX login_failures_last ON login_failures(last_at);
