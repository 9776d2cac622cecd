package asymjwtsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// MaxKeyText bounds the key text AddKey takes: the largest RSA key the
// core accepts fits many times over.
const MaxKeyText = 16 << 10

// Key is one row of asymjwt_keys.
type Key struct {
	Username string
	// KeyID is the key's fingerprint (asymjwt.Fingerprint): the kid of
	// the tokens it signs.
	KeyID string
	// Text is the key as it was added: PEM, an OpenSSH line or a JWK.
	Text string
	// Label is free text for people (the Python library's comment).
	Label string
	// Created is when it was added.
	Created time.Time
	// LastUsed is when it last authenticated a request, as written by
	// the stores' batched flushes; zero if never.
	LastUsed time.Time
	// Revoked is when it was revoked; zero if not. A revoked key is
	// refused as if it were absent.
	Revoked time.Time
}

// JWKSTrust is one row of asymjwt_jwks_trusts.
type JWKSTrust struct {
	Username string
	URL      string
	Created  time.Time
	LastUsed time.Time
}

// ErrExists: AddKey was given a key the user already has.
var ErrExists = errors.New("asymjwtsql: key already registered for this user")

// AddKey registers a public key for username (asymjwt.CheckUsername
// rules) and returns its kid. text is parsed with asymjwt.ParsePublicKey
// (PEM, an OpenSSH line, a JWK; weak keys are refused) and stored as
// given; label defaults to an OpenSSH line's comment. A key the user
// already has is refused with ErrExists.
func AddKey(ctx context.Context, db *sql.DB, username, text, label string) (kid string, err error) {
	d, err := dialectOf(db)
	if err != nil {
		return "", err
	}
	if err := asymjwt.CheckUsername(username); err != nil {
		return "", err
	}
	if len(text) > MaxKeyText {
		return "", fmt.Errorf("%w: key text over %d bytes", asymjwt.ErrInvalidKey, MaxKeyText)
	}
	pub, err := asymjwt.ParsePublicKey([]byte(text))
	if err != nil {
		return "", err
	}
	if label == "" {
		_, label, _ = asymjwt.ParseAuthorizedKey([]byte(text))
	}
	if kid, err = asymjwt.Fingerprint(pub); err != nil {
		return "", err
	}
	var exists int
	err = db.QueryRowContext(ctx, d.q(`SELECT COUNT(*) FROM asymjwt_keys WHERE username = $1 AND kid = $2`), username, kid).Scan(&exists)
	if err != nil {
		return "", fmt.Errorf("asymjwtsql: add key: %w", err)
	}
	if exists > 0 {
		return kid, ErrExists
	}
	_, err = db.ExecContext(ctx, d.q(`INSERT INTO asymjwt_keys (username, kid, public_key, label, created_at) VALUES ($1, $2, $3, $4, $5)`),
		username, kid, text, label, d.t(time.Now()))
	if err != nil {
		return "", fmt.Errorf("asymjwtsql: add key: %w", err)
	}
	return kid, nil
}

// RemoveKey deletes username's key with kid and reports whether it was
// there. Every store refuses it within its revocation delay (see the
// README).
func RemoveKey(ctx context.Context, db *sql.DB, username, kid string) (bool, error) {
	d, err := dialectOf(db)
	if err != nil {
		return false, err
	}
	res, err := db.ExecContext(ctx, d.q(`DELETE FROM asymjwt_keys WHERE username = $1 AND kid = $2`), username, kid)
	if err != nil {
		return false, fmt.Errorf("asymjwtsql: remove key: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// RevokeKey marks username's key with kid revoked, keeping its row (and
// last use) for the record, and reports whether an unrevoked key was
// there. Stores refuse it as they would a removed key.
func RevokeKey(ctx context.Context, db *sql.DB, username, kid string) (bool, error) {
	d, err := dialectOf(db)
	if err != nil {
		return false, err
	}
	res, err := db.ExecContext(ctx, d.q(`UPDATE asymjwt_keys SET revoked_at = $3 WHERE username = $1 AND kid = $2 AND revoked_at IS NULL`),
		username, kid, d.t(time.Now()))
	if err != nil {
		return false, fmt.Errorf("asymjwtsql: revoke key: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// ListKeys returns the keys of username, or of every user when username
// is "", revoked ones included, by username then creation.
func ListKeys(ctx context.Context, db *sql.DB, username string) ([]Key, error) {
	d, err := dialectOf(db)
	if err != nil {
		return nil, err
	}
	query := `SELECT username, kid, public_key, label, created_at, last_used_at, revoked_at FROM asymjwt_keys`
	var args []any
	if username != "" {
		query += ` WHERE username = $1`
		args = append(args, username)
	}
	rows, err := db.QueryContext(ctx, d.q(query+` ORDER BY username, created_at, kid`), args...)
	if err != nil {
		return nil, fmt.Errorf("asymjwtsql: list keys: %w", err)
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		var (
			k                      Key
			created, used, revoked nullTime
		)
		if err := rows.Scan(&k.Username, &k.KeyID, &k.Text, &k.Label, &created, &used, &revoked); err != nil {
			return nil, fmt.Errorf("asymjwtsql: list keys: %w", err)
		}
		k.Created, k.LastUsed, k.Revoked = created.Time, used.Time, revoked.Time
		out = append(out, k)
	}
	return out, rows.Err()
}

// TrustJWKS makes username's keys those published at jwksURL (https; see
// asymjwt.JWKSTrust), replacing any URL trusted for username before.
func TrustJWKS(ctx context.Context, db *sql.DB, username, jwksURL string) error {
	d, err := dialectOf(db)
	if err != nil {
		return err
	}
	if err := asymjwt.CheckUsername(username); err != nil {
		return err
	}
	u, err := url.Parse(jwksURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("asymjwtsql: JWKS URL %q: want an https URL", redact(jwksURL))
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("asymjwtsql: trust JWKS: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM asymjwt_jwks_trusts WHERE username = $1`), username); err != nil {
		return fmt.Errorf("asymjwtsql: trust JWKS: %w", err)
	}
	if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO asymjwt_jwks_trusts (username, url, created_at) VALUES ($1, $2, $3)`),
		username, jwksURL, d.t(time.Now())); err != nil {
		return fmt.Errorf("asymjwtsql: trust JWKS: %w", err)
	}
	return tx.Commit()
}

// UntrustJWKS removes username's JWKS trust and reports whether there was
// one.
func UntrustJWKS(ctx context.Context, db *sql.DB, username string) (bool, error) {
	d, err := dialectOf(db)
	if err != nil {
		return false, err
	}
	res, err := db.ExecContext(ctx, d.q(`DELETE FROM asymjwt_jwks_trusts WHERE username = $1`), username)
	if err != nil {
		return false, fmt.Errorf("asymjwtsql: untrust JWKS: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// ListJWKSTrusts returns every JWKS trust, by username.
func ListJWKSTrusts(ctx context.Context, db *sql.DB) ([]JWKSTrust, error) {
	rows, err := db.QueryContext(ctx, `SELECT username, url, created_at, last_used_at FROM asymjwt_jwks_trusts ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("asymjwtsql: list JWKS trusts: %w", err)
	}
	defer rows.Close()
	var out []JWKSTrust
	for rows.Next() {
		var (
			t             JWKSTrust
			created, used nullTime
		)
		if err := rows.Scan(&t.Username, &t.URL, &created, &used); err != nil {
			return nil, fmt.Errorf("asymjwtsql: list JWKS trusts: %w", err)
		}
		t.Created, t.LastUsed = created.Time, used.Time
		out = append(out, t)
	}
	return out, rows.Err()
}
