-- asymjwt key store, version 1: keys, JWKS trusts, and change notifications.
CREATE TABLE asymjwt_keys (
    username     TEXT        NOT NULL CHECK (username <> ''),
    kid          TEXT        NOT NULL,
    public_key   TEXT        NOT NULL,
    label        TEXT        NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    PRIMARY KEY (username, kid)
);

CREATE TABLE asymjwt_jwks_trusts (
    username     TEXT        NOT NULL PRIMARY KEY CHECK (username <> ''),
    url          TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);

-- Every change that matters to verification tells the listening stores
-- which user changed; '' asks for a full reload.
CREATE FUNCTION asymjwt_notify_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('asymjwt_keys', CASE WHEN octet_length(OLD.username) <= 1000 THEN OLD.username ELSE '' END);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('asymjwt_keys', CASE WHEN octet_length(NEW.username) <= 1000 THEN NEW.username ELSE '' END);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION asymjwt_notify_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('asymjwt_keys', '');
    RETURN NULL;
END
$$;

-- last_used_at and label are left out: they do not change who is let in.
CREATE TRIGGER asymjwt_keys_notify
    AFTER INSERT OR DELETE OR UPDATE OF username, kid, public_key, revoked_at ON asymjwt_keys
    FOR EACH ROW EXECUTE FUNCTION asymjwt_notify_user();
CREATE TRIGGER asymjwt_keys_truncate
    AFTER TRUNCATE ON asymjwt_keys
    FOR EACH STATEMENT EXECUTE FUNCTION asymjwt_notify_all();
CREATE TRIGGER asymjwt_jwks_trusts_notify
    AFTER INSERT OR DELETE OR UPDATE OF username, url ON asymjwt_jwks_trusts
    FOR EACH ROW EXECUTE FUNCTION asymjwt_notify_user();
CREATE TRIGGER asymjwt_jwks_trusts_truncate
    AFTER TRUNCATE ON asymjwt_jwks_trusts
    FOR EACH STATEMENT EXECUTE FUNCTION asymjwt_notify_all();
