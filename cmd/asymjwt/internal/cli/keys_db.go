package cli

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtsql "github.com/asymjwt/asymjwt/sql"
)

// dbTimeout bounds each keys command's work on the database.
const dbTimeout = 30 * time.Second

// openDB opens a key database URL (postgres://, postgresql://,
// sqlite:PATH) for one command and checks that it answers. A SQLite file
// must exist (only migrate creates one): a mistyped path is an error,
// not a new empty database.
func openDB(ctx context.Context, dbURL string) (*sql.DB, error) {
	return openDBFor(ctx, dbURL, false)
}

func openDBFor(ctx context.Context, dbURL string, create bool) (*sql.DB, error) {
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok && !create && path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("SQLite key database: %w (asymjwt migrate creates it)", err)
		}
	}
	db, err := asymjwtsql.Open(dbURL)
	if err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	return db, nil
}

func keysAddDB(e *env, dbURL, user, text, label string) error {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	db, err := openDB(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	kid, err := asymjwtsql.AddKey(ctx, db, user, text, label)
	if errors.Is(err, asymjwtsql.ErrExists) {
		fmt.Fprintf(e.stderr, "asymjwt keys add: the key is already registered for %s\n", user)
		err = nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, kid)
	return nil
}

func keysRemoveDB(dbURL, user, kid string, revoke bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	db, err := openDB(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	remove := asymjwtsql.RemoveKey
	if revoke {
		remove = asymjwtsql.RevokeKey
	}
	ok, err := remove(ctx, db, user, kid)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("user %s has no key %s (that is not revoked)", user, kid)
	}
	return nil
}

// dbKeyListing is one line of keys list --db.
type dbKeyListing struct {
	User     string     `json:"user"`
	KeyID    string     `json:"kid"`
	Type     string     `json:"type"`
	Label    string     `json:"label"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used"`
	Revoked  *time.Time `json:"revoked,omitempty"`
}

func keysListDB(e *env, dbURL, user string, asJSON bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	db, err := openDB(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := asymjwtsql.ListKeys(ctx, db, user)
	if err != nil {
		return err
	}
	trusts, err := asymjwtsql.ListJWKSTrusts(ctx, db)
	if err != nil {
		return err
	}
	listing := []dbKeyListing{}
	var problems []error
	for _, k := range keys {
		l := dbKeyListing{User: k.Username, KeyID: k.KeyID, Label: k.Label, Created: k.Created,
			LastUsed: timeOrNil(k.LastUsed), Revoked: timeOrNil(k.Revoked)}
		pub, err := asymjwt.ParsePublicKey([]byte(k.Text))
		if err == nil {
			l.Type = keyType(pub)
		} else {
			l.Type = "invalid"
			problems = append(problems, fmt.Errorf("user %s, key %s: %w", k.Username, k.KeyID, err))
		}
		listing = append(listing, l)
	}
	for _, t := range trusts {
		if user == "" || t.Username == user {
			listing = append(listing, dbKeyListing{User: t.Username, Type: "jwks", Label: t.URL, Created: t.Created, LastUsed: timeOrNil(t.LastUsed)})
		}
	}
	if asJSON {
		if err := writeJSON(e, listing); err != nil {
			return err
		}
	} else {
		var table bytes.Buffer
		tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tKID\tTYPE\tLABEL\tCREATED\tLAST USED")
		for _, l := range listing {
			typ := l.Type
			if l.Revoked != nil {
				typ += " (revoked " + l.Revoked.UTC().Format(time.RFC3339) + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.User, l.KeyID, typ, l.Label,
				l.Created.UTC().Format(time.RFC3339), formatOptionalTime(l.LastUsed))
		}
		tw.Flush()
		for line := range strings.Lines(table.String()) {
			fmt.Fprintln(e.stdout, strings.TrimRight(line, " \n"))
		}
	}
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "problem: %v\n", p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d key(s) cannot be used", len(problems))
	}
	return nil
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func formatOptionalTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func runKeysImport(e *env, args []string) error {
	fs := newFlagSet(e, "keys import", help{
		usage: "asymjwt keys import --db URL --dir DIR",
		text: `Copies every key of the authorized-keys directory DIR into the key
database URL: each key as an OpenSSH line, its label kept. Keys the
database already has for the user are left as they are. Files that
cannot be used are reported on stderr, not imported, and make the exit
status 1; the others are imported.`,
		example: `asymjwt keys import --db postgres://asymjwt@db/keys --dir /etc/asymjwt/keys`,
	})
	dbURL := fs.String("db", "", "the key database `URL`")
	dir := fs.String("dir", "", "the authorized-keys `DIR` to read")
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case *dbURL == "" || *dir == "":
		return usagef("--db and --dir are required")
	case len(rest) != 0:
		return usagef("unexpected argument %q", rest[0])
	}
	var problems []error
	store, err := openKeysOnce(*dir, func(err error) { problems = append(problems, err) })
	if err != nil {
		return err
	}
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	db, err := openDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	added, present := 0, 0
	for _, user := range store.Users() {
		for _, k := range store.UserKeys(user) {
			line, err := asymjwt.MarshalPublicKeyOpenSSH(k.Public, k.Label)
			if err != nil {
				problems = append(problems, fmt.Errorf("user %s, key %s: %w", user, k.KeyID, err))
				continue
			}
			switch _, err := asymjwtsql.AddKey(ctx, db, user, strings.TrimSpace(string(line)), k.Label); {
			case errors.Is(err, asymjwtsql.ErrExists):
				present++
			case err != nil:
				return fmt.Errorf("user %s, key %s: %w (%d keys imported before)", user, k.KeyID, err, added)
			default:
				added++
			}
		}
	}
	fmt.Fprintf(e.stdout, "imported %d key(s); %d already there\n", added, present)
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "problem: %v\n", p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d file(s) in %s cannot be used", len(problems), *dir)
	}
	return nil
}

func runKeysTrustJWKS(e *env, args []string) error {
	fs := newFlagSet(e, "keys trust-jwks", help{
		usage: "asymjwt keys trust-jwks --db URL --user NAME JWKS-URL",
		text: `Makes user NAME's keys those published at JWKS-URL (https), in the key
database URL, replacing any URL trusted for NAME before: as the Python
library's JWKSEndpointTrust. Servers with --keys-db fetch the set and
follow its changes. With --remove instead of a URL, NAME's trust is
removed.`,
		example: `asymjwt keys trust-jwks --db sqlite:/var/lib/asymjwt/keys.db --user billing https://billing.example.com/.well-known/jwks.json`,
	})
	dbURL := fs.String("db", "", "the key database `URL`")
	user := fs.String("user", "", "the user `NAME`")
	remove := fs.Bool("remove", false, "remove NAME's trust instead")
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case *dbURL == "" || *user == "":
		return usagef("--db and --user are required")
	case *remove && len(rest) != 0:
		return usagef("--remove takes no URL")
	case !*remove && len(rest) != 1:
		return usagef("want exactly one JWKS URL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	db, err := openDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if *remove {
		ok, err := asymjwtsql.UntrustJWKS(ctx, db, *user)
		if err == nil && !ok {
			err = fmt.Errorf("user %s has no JWKS trust", *user)
		}
		return err
	}
	return asymjwtsql.TrustJWKS(ctx, db, *user, rest[0])
}
