-- asymjwt key store, version 1: keys and JWKS trusts. Stores follow
-- changes by polling PRAGMA data_version: no triggers needed.
CREATE TABLE asymjwt_keys (
    username     TEXT      NOT NULL CHECK (username <> ''),
    kid          TEXT      NOT NULL,
    public_key   TEXT      NOT NULL,
    label        TEXT      NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP,
    PRIMARY KEY (username, kid)
);

CREATE TABLE asymjwt_jwks_trusts (
    username     TEXT      NOT NULL PRIMARY KEY CHECK (username <> ''),
    url          TEXT      NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
