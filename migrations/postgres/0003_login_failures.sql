-- 0003_login_failures.sql (PostgreSQL): the twin of migrations/0003_login_failures.sql (see
-- there for what the table holds). WITHOUT ROWID is an ordinary table.
CREATE TABLE login_failures (
    account  text NOT NULL,
    address  text NOT NULL,
    failures bigint NOT NULL CHECK (failures > 0),
    last_at  bigint NOT NULL,
    PRIMARY KEY (account, address)
);
CREATE INDEX login_failures_address ON login_failures(address);
CREATE INDEX login_failures_last ON login_failures(last_at);
