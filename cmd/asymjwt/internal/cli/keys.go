package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func runKeys(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "keys", help{
		usage: "asymjwt keys add|list|remove (--dir DIR | --db URL) ...; asymjwt keys import|trust-jwks --db URL ...",
		text: `Manages an authorized-keys directory: one file per username, one public
key per line (OpenSSH form, or a PEM block), as "asymjwt proxy --keys",
"asymjwt verify --keys" and asymjwt.OpenAuthorizedKeysDir read it.
Servers pick up changes without a restart. add and remove hold a lock
on DIR/.lock (a hidden file, which servers ignore) while they edit, so
that commands run at the same time never undo each other. Run
"asymjwt keys COMMAND -h" for each command.

With --db URL instead of --dir, the keys live in a database (postgres://,
postgresql:// or sqlite:PATH; see "asymjwt migrate") that servers read
with --keys-db.

  add         register a public key for a user and print its kid
  list        show user, kid, type and label of every key (with --db:
              created and last used too)
  remove      unregister a key by its kid
  import      copy an authorized-keys directory into a database
  trust-jwks  trust a user's JWKS URL, in a database`,
		example: `asymjwt keys add --dir /etc/asymjwt/keys --user billing --label "billing prod 2025" client.pem.pub`,
	})
	if len(args) == 0 {
		return usagef("want a subcommand: add, list, remove, import or trust-jwks")
	}
	switch args[0] {
	case "import":
		return runKeysImport(e, args[1:])
	case "trust-jwks":
		return runKeysTrustJWKS(e, args[1:])
	case "add":
		return runKeysAdd(e, args[1:])
	case "list":
		return runKeysList(e, args[1:])
	case "remove":
		return runKeysRemove(e, args[1:])
	}
	if _, err := parse(fs, args); err != nil {
		return err
	}
	return usagef("unknown subcommand %q: want add, list, remove, import or trust-jwks", args[0])
}

// lockName is the lock file of an authorized-keys directory (lockDir):
// hidden, so servers reading the directory ignore it.
const lockName = ".lock"

// userFile is the path of username's file in dir, after checking that
// username can be a file name there.
func userFile(dir, username string) (string, error) {
	if err := asymjwt.CheckUsername(username); err != nil {
		return "", err
	}
	return filepath.Join(dir, username), nil
}

// readUserKeys reads a user's file; a missing file is no keys.
func readUserKeys(path string) ([]byte, []asymjwt.AuthorizedKey, error) {
	data, err := readFileLimited(path, asymjwt.MaxAuthorizedKeysFileSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	keys, err := asymjwt.ParseAuthorizedKeys(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w (fix the file first)", path, err)
	}
	return data, keys, nil
}

func runKeysAdd(e *env, args []string) error {
	fs := newFlagSet(e, "keys add", help{
		usage: "asymjwt keys add (--dir DIR | --db URL) --user NAME [--label TEXT] PUBFILE",
		text: `Registers the public key in PUBFILE (PEM, OpenSSH line or JWK; "-" for
stdin) for user NAME and prints its kid. The key is appended to DIR/NAME
as an OpenSSH line with the label as its comment (default: the comment of
an OpenSSH input). DIR is created if needed. The file is replaced
atomically, so servers reading the directory never see half of it. A key
already registered for the user is left as it is. With --db, the key is
stored as given, in the database.`,
		example: `asymjwt keys add --dir /etc/asymjwt/keys --user billing --label "billing prod 2025" client.pem.pub`,
	})
	dir := fs.String("dir", "", "the authorized-keys `DIR`")
	db := fs.String("db", "", "the key database `URL`, instead of --dir")
	user := fs.String("user", "", "the user `NAME` (the file name in DIR)")
	label := fs.String("label", "", "a `TEXT` to recognize the key by (one line)")
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case (*dir == "") == (*db == ""):
		return usagef("give one of --dir and --db")
	case *user == "":
		return usagef("--user is required")
	case len(rest) != 1:
		return usagef("want exactly one key file")
	case strings.ContainsFunc(*label, unicode.IsControl):
		return usagef("--label must be one line of text")
	}
	path, err := userFile(*dir, *user)
	if err != nil {
		return err
	}
	data, err := readKeyFile(e, rest[0])
	if err != nil {
		return err
	}
	if bytes.Contains(data, []byte("PRIVATE KEY-----")) {
		return fmt.Errorf("%s holds a private key: register its public key (the .pub file, or asymjwt pubkey)", rest[0])
	}
	pub, comment, err := asymjwt.ParseAuthorizedKey(data)
	if err != nil {
		return keyError(rest[0], err)
	}
	if !flagWasSet(fs, "label") {
		*label = comment
	}
	if *db != "" {
		return keysAddDB(e, *db, *user, string(data), strings.TrimSpace(*label))
	}
	line, err := asymjwt.MarshalPublicKeyOpenSSH(pub, strings.TrimSpace(*label))
	if err != nil {
		return err
	}
	kid, err := asymjwt.Fingerprint(pub)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	unlock, err := lockDir(*dir)
	if err != nil {
		return err
	}
	defer unlock()
	old, keys, err := readUserKeys(path)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(keys, func(k asymjwt.AuthorizedKey) bool { return k.KeyID == kid }) {
		fmt.Fprintf(e.stderr, "asymjwt keys add: the key is already registered for %s\n", *user)
		fmt.Fprintln(e.stdout, kid)
		return nil
	}
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		old = append(old, '\n')
	}
	if err := writeAtomic(path, append(old, line...), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, kid)
	return nil
}

// keyListing is one line of keys list.
type keyListing struct {
	User  string `json:"user"`
	KeyID string `json:"kid"`
	Type  string `json:"type"`
	Label string `json:"label"`
}

func runKeysList(e *env, args []string) error {
	fs := newFlagSet(e, "keys list", help{
		usage: "asymjwt keys list (--dir DIR | --db URL) [--user NAME] [--json]",
		text: `Lists every key of the authorized-keys directory DIR, sorted by user, in
file order: user, kid, type and label. Files the servers would ignore or
refuse are reported on stderr and make the exit status 1.

With --db, the keys of the database, by user then creation, with when
each was created and last used (as the servers last wrote it: within a
minute or so), revoked ones marked; JWKS trusts follow, with "jwks" as
their type and the URL as their label. Rows the servers would skip are
reported on stderr and make the exit status 1.`,
		example: `asymjwt keys list --dir /etc/asymjwt/keys --user billing`,
	})
	dir := fs.String("dir", "", "the authorized-keys `DIR`")
	db := fs.String("db", "", "the key database `URL`, instead of --dir")
	user := fs.String("user", "", "list only the keys of user `NAME`")
	asJSON := fs.Bool("json", false, "print a JSON array")
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case (*dir == "") == (*db == ""):
		return usagef("give one of --dir and --db")
	case len(rest) != 0:
		return usagef("unexpected argument %q", rest[0])
	case *db != "":
		return keysListDB(e, *db, *user, *asJSON)
	}
	var problems []error
	store, err := openKeysOnce(*dir, func(err error) { problems = append(problems, err) })
	if err != nil {
		return err
	}
	defer store.Close()
	listing := []keyListing{}
	for _, name := range store.Users() {
		if *user != "" && name != *user {
			continue
		}
		for _, k := range store.UserKeys(name) {
			listing = append(listing, keyListing{name, k.KeyID, keyType(k.Public), k.Label})
		}
	}
	if *asJSON {
		if err := writeJSON(e, listing); err != nil {
			return err
		}
	} else {
		var table bytes.Buffer
		tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tKID\tTYPE\tLABEL")
		for _, l := range listing {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.User, l.KeyID, l.Type, l.Label)
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
		return fmt.Errorf("%d file(s) in %s cannot be used", len(problems), *dir)
	}
	return nil
}

func runKeysRemove(e *env, args []string) error {
	fs := newFlagSet(e, "keys remove", help{
		usage: "asymjwt keys remove (--dir DIR | --db URL [--revoke]) --user NAME KID",
		text: `Unregisters the key with the given kid (as "keys list" shows it) from
user NAME. The other lines of the file stay as they are; the file is
replaced atomically, and removed when no key is left. With --db, the
row is deleted, or with --revoke kept and marked revoked (it stays in
"keys list", with its last use); servers refuse the key within their
revocation delay (milliseconds on PostgreSQL, a second on SQLite, by
default).`,
		example: `asymjwt keys remove --dir /etc/asymjwt/keys --user billing 5c1f0e...`,
	})
	dir := fs.String("dir", "", "the authorized-keys `DIR`")
	db := fs.String("db", "", "the key database `URL`, instead of --dir")
	revoke := fs.Bool("revoke", false, "with --db, mark the key revoked instead of deleting its row")
	user := fs.String("user", "", "the user `NAME`")
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case (*dir == "") == (*db == ""):
		return usagef("give one of --dir and --db")
	case *user == "":
		return usagef("--user is required")
	case len(rest) != 1:
		return usagef("want exactly one KID")
	case *revoke && *db == "":
		return usagef("--revoke goes with --db")
	}
	kid := rest[0]
	if *db != "" {
		return keysRemoveDB(*db, *user, kid, *revoke)
	}
	path, err := userFile(*dir, *user)
	if err != nil {
		return err
	}
	unlock, err := lockDir(*dir)
	if err != nil {
		return err
	}
	defer unlock()
	data, keys, err := readUserKeys(path)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(keys, func(k asymjwt.AuthorizedKey) bool { return k.KeyID == kid })
	if i < 0 {
		return fmt.Errorf("user %s has no key %s", *user, kid)
	}
	want := slices.Delete(slices.Clone(keys), i, i+1)
	if len(want) == 0 {
		if err := os.Remove(path); err != nil {
			return err
		}
		return syncDir(*dir)
	}
	out, err := removeKey(data, kid, want)
	if err != nil {
		return err
	}
	return writeAtomic(path, out, 0o644)
}

// removeKey returns data without the entry of kid: the OpenSSH line, or
// the PEM block with the "#" label line right above it. Every other line
// stays. If the result would not read back as exactly want (same keys,
// same labels) — say a comment line would become the label of the next
// PEM block — it returns want written out afresh, one OpenSSH line per key.
func removeKey(data []byte, kid string, want []asymjwt.AuthorizedKey) ([]byte, error) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	var out []byte
	for i := 0; i < len(lines); i++ {
		line := bytes.TrimSpace(lines[i])
		if len(line) == 0 || line[0] == '#' {
			out = append(out, lines[i]...)
			continue
		}
		end := i
		if bytes.HasPrefix(line, []byte("-----BEGIN ")) {
			for end < len(lines)-1 && !bytes.HasPrefix(bytes.TrimSpace(lines[end]), []byte("-----END ")) {
				end++
			}
		}
		entry := bytes.Join(lines[i:end+1], nil)
		if keys, err := asymjwt.ParseAuthorizedKeys(entry); err == nil && len(keys) == 1 && keys[0].KeyID == kid {
			if end > i && i > 0 && bytes.HasPrefix(bytes.TrimSpace(lines[i-1]), []byte("#")) {
				out = out[:len(out)-len(lines[i-1])] // the PEM block's label
			}
		} else {
			out = append(out, entry...)
		}
		i = end
	}
	if got, err := asymjwt.ParseAuthorizedKeys(out); err == nil && sameKeys(got, want) {
		return out, nil
	}
	var fresh []byte
	for _, k := range want {
		line, err := asymjwt.MarshalPublicKeyOpenSSH(k.Public, k.Label)
		if err != nil {
			return nil, err
		}
		fresh = append(fresh, line...)
	}
	return fresh, nil
}

func sameKeys(a, b []asymjwt.AuthorizedKey) bool {
	return slices.EqualFunc(a, b, func(x, y asymjwt.AuthorizedKey) bool {
		return x.KeyID == y.KeyID && x.Label == y.Label
	})
}
