package asymjwt

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"
)

// AuthorizedKey is one public key of an authorized-keys file.
type AuthorizedKey struct {
	// Public is the key.
	Public crypto.PublicKey
	// KeyID is its fingerprint: the kid of the tokens it signs.
	KeyID string
	// Label is the key's comment: the comment of an OpenSSH line, or for
	// a PEM block the "# ..." line right above it.
	Label string
}

// MaxAuthorizedKeysFileSize bounds one user's file; a larger file is
// reported as bad and not read.
const MaxAuthorizedKeysFileSize = 1 << 20

// errStoreClosed is what a closed key store answers: a store that no
// longer refreshes must not keep vouching for keys (fail closed).
var errStoreClosed = errors.New("asymjwt: key store closed")

// sshKeyTypes are the OpenSSH key types that can sign tokens. Security-key
// types (sk-*) wrap the same public keys but sign in a FIDO format no
// token uses, so they are refused rather than silently accepted.
var sshKeyTypes = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoRSA,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
}

// ParseAuthorizedKeys reads one user's authorized-keys file: one key per
// line in OpenSSH form ("ssh-ed25519 AAAA... comment"), or a PEM public
// key block ("-----BEGIN PUBLIC KEY-----" ... "-----END PUBLIC KEY-----")
// spanning several lines. Blank lines and lines starting with "#" are
// skipped; a "#" line directly above a PEM block (no blank line between)
// is that key's label, since PEM has no comment of its own.
//
// OpenSSH options (from=, command=, restrict, ...) are refused: they
// would not be enforced here. A key listed twice is kept once, with its
// first label. Any bad line fails the whole file, naming the line.
func ParseAuthorizedKeys(data []byte) ([]AuthorizedKey, error) {
	var (
		keys  []AuthorizedKey
		label string
	)
	lines := bytes.Split(bytes.TrimPrefix(data, utf8BOM), []byte("\n"))
	for i := 0; i < len(lines); i++ {
		first := i + 1
		line := bytes.TrimSpace(lines[i])
		switch {
		case len(line) == 0:
			label = ""
			continue
		case line[0] == '#':
			label = string(bytes.TrimSpace(line[1:]))
			continue
		}
		var (
			pub     crypto.PublicKey
			comment string
			err     error
		)
		if bytes.HasPrefix(line, []byte("-----BEGIN ")) {
			end := i
			for end < len(lines) && !bytes.HasPrefix(bytes.TrimSpace(lines[end]), []byte("-----END ")) {
				end++
			}
			if end == len(lines) {
				return nil, fmt.Errorf("line %d: %w: PEM block has no END line", first, ErrInvalidKey)
			}
			block := make([][]byte, 0, end-i+1)
			for _, l := range lines[i : end+1] {
				block = append(block, bytes.TrimSpace(l))
			}
			pub, _, err = ParseAuthorizedKey(bytes.Join(block, []byte("\n")))
			comment = label
			i = end
		} else {
			pub, comment, err = parseAuthorizedKeysLine(line)
		}
		label = ""
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", first, err)
		}
		kid, err := Fingerprint(pub)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", first, err)
		}
		if slices.ContainsFunc(keys, func(k AuthorizedKey) bool { return k.KeyID == kid }) {
			continue
		}
		keys = append(keys, AuthorizedKey{Public: pub, KeyID: kid, Label: comment})
	}
	return keys, nil
}

func parseAuthorizedKeysLine(line []byte) (crypto.PublicKey, string, error) {
	sshPub, comment, options, _, err := ssh.ParseAuthorizedKey(line)
	switch {
	case err != nil:
		if typ := openSSHLineKeyType(line); typ != "" && !slices.Contains(sshKeyTypes, typ) {
			return nil, "", unsupportedKey(sshKeyTypeName(typ))
		}
		return nil, "", fmt.Errorf("%w: neither an OpenSSH public key nor a PEM block: %v", ErrInvalidKey, err)
	case len(options) > 0:
		return nil, "", fmt.Errorf("%w: OpenSSH options are not supported (they would not be enforced)", ErrInvalidKey)
	case !slices.Contains(sshKeyTypes, sshPub.Type()):
		return nil, "", unsupportedKey(sshKeyTypeName(sshPub.Type()))
	}
	pub := sshPub.(ssh.CryptoPublicKey).CryptoPublicKey()
	if err := checkPublicKey(pub); err != nil {
		return nil, "", err
	}
	return pub, comment, nil
}

// CheckUsername reports whether name can be a user's file name in an
// authorized-keys directory: 1-256 bytes of valid UTF-8, no path
// separator, no "..", not hidden (leading "."), no trailing "~" (editor
// backups), no control characters, no ",", no white space at either end.
// The last two because a username travels on as a header value (the
// proxy's user header), where a comma splits a list and outer white
// space is trimmed: either would let one name pass for another.
func CheckUsername(name string) error {
	var reason string
	switch {
	case name == "":
		reason = "empty"
	case len(name) > maxUsernameLength:
		reason = fmt.Sprintf("longer than %d bytes", maxUsernameLength)
	case !utf8.ValidString(name):
		reason = "not valid UTF-8"
	case strings.ContainsAny(name, `/\`):
		reason = "contains a path separator"
	case strings.Contains(name, ".."):
		reason = `contains ".."`
	case name[0] == '.':
		reason = "hidden (starts with a dot)"
	case strings.HasSuffix(name, "~"):
		reason = `ends with "~" (a backup file)`
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		reason = "contains a control character"
	case strings.Contains(name, ","):
		reason = `contains ","`
	case strings.TrimFunc(name, unicode.IsSpace) != name:
		reason = "starts or ends with white space"
	default:
		return nil
	}
	return fmt.Errorf("asymjwt: invalid username %q: %s", name, reason)
}

// DefaultAuthorizedKeysPollInterval is how often an AuthorizedKeysDir
// looks for changed files unless told otherwise.
const DefaultAuthorizedKeysPollInterval = 2 * time.Second

// AuthorizedKeysOption configures OpenAuthorizedKeysDir.
type AuthorizedKeysOption func(*authorizedKeysConfig)

type authorizedKeysConfig struct {
	interval time.Duration
	onError  func(error)
	onReload func(error)
	logger   *slog.Logger
}

// WithAuthorizedKeysPollInterval sets how often the directory is checked
// for changes (default 2 s). A check costs one stat per file; files are
// read again only when their size, modification or change time, mode or
// identity changed, or when the last attempt could not read them. d <= 0
// turns polling off: call Reload yourself (on SIGHUP, say).
func WithAuthorizedKeysPollInterval(d time.Duration) AuthorizedKeysOption {
	return func(c *authorizedKeysConfig) { c.interval = d }
}

// WithAuthorizedKeysErrorHandler calls fn with every problem found while
// loading: a bad or unreadable file (its last good keys stay in use), a
// file name that is not a valid username (ignored), an unreadable
// directory. A problem that lasts is reported once, not at every poll,
// and again when it changes; Reload reports every problem it finds. fn
// runs on the loading goroutine: keep it short.
func WithAuthorizedKeysErrorHandler(fn func(error)) AuthorizedKeysOption {
	return func(c *authorizedKeysConfig) { c.onError = fn }
}

// WithAuthorizedKeysReloadHandler calls fn after every load of the
// directory (the first, each poll, each Reload) with what that load
// returned: nil, or the problems it reported (joined). Reloads that
// cannot run because the store is closed are not passed. It is meant for
// metrics (reloads, failures, time of the last good load). A poll passes
// only the problems it newly reported, so a file that stays bad fails
// one load, not every poll; an unreadable directory fails every poll.
// fn runs on the loading goroutine with the
// reload lock held: keep it short, and call neither Reload nor Close.
func WithAuthorizedKeysReloadHandler(fn func(error)) AuthorizedKeysOption {
	return func(c *authorizedKeysConfig) { c.onReload = fn }
}

// WithAuthorizedKeysLogger sets where loads (Info) and problems (Error,
// Warn for ignored names) are logged; default slog.Default().
func WithAuthorizedKeysLogger(l *slog.Logger) AuthorizedKeysOption {
	return func(c *authorizedKeysConfig) { c.logger = l }
}

// AuthorizedKeysDir is a KeyStore read from a directory with one file per
// username, each file in the form ParseAuthorizedKeys reads — the
// server-side counterpart of ~/.ssh/authorized_keys. The file name is the
// username, exactly; names that fail CheckUsername are ignored (and
// reported), hidden files silently, so an atomic writer can prepare
// ".alice.tmp" and rename it to "alice". Symbolic links to regular files
// are followed, which makes a Kubernetes ConfigMap or Secret volume work
// as the directory.
//
// Changes are picked up by polling without dropping requests: lookups
// read an immutable snapshot that a reload swaps atomically. A file that
// cannot be read or parsed is reported and its last good keys stay in
// use; a file that could not be read is tried again at every poll until
// it is, one that could not be parsed when it next changes. Removing a
// file removes the user. Write files by atomic rename: a file caught
// half-written may parse as fewer keys, and a rewrite in place that keeps
// size and times (within one tick of the file system's clock) is not seen
// until the next change or Reload.
//
// Each file with a valid name owns its user, which matters in a chain
// (ChainKeyStores): a user whose file exists but has never loaded
// (unreadable, or bad since it appeared) is answered with a store error,
// never ErrUnknownUser, so the chain stops there and the verifier refuses
// with 503 instead of asking the next store; an empty file (or one with
// only comments) is a user without keys, answered with ErrUnknownKey,
// also final. Unknown users are the names without a regular file (after
// following links) or that fail CheckUsername.
//
// Lookups are O(1), take no lock and do not allocate. Close stops
// polling; a closed store refuses every lookup.
type AuthorizedKeysDir struct {
	dir  string
	cfg  authorizedKeysConfig
	snap *KeySnapshots // what lookups read: its users are the files' users

	files map[string]*authorizedFile // owned by the loads, which snap serializes
}

// authorizedFile is a directory entry as last seen.
type authorizedFile struct {
	// info is the version last read through, good or bad; nil if none.
	// A version that could not be read is not recorded, so that the next
	// poll tries again.
	info    fs.FileInfo
	user    *SnapshotUser // its last good keys, or why it never loaded
	ignored bool          // the name is not a valid username
	problem string        // the read problem last reported; "" when read
}

// OpenAuthorizedKeysDir loads dir and, unless polling is turned off,
// starts watching it for changes. It fails only when dir cannot be read;
// bad files are reported (error handler and log), and their users refused
// as a store failure until they load.
func OpenAuthorizedKeysDir(dir string, opts ...AuthorizedKeysOption) (*AuthorizedKeysDir, error) {
	cfg := authorizedKeysConfig{interval: DefaultAuthorizedKeysPollInterval}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if _, err := os.ReadDir(dir); err != nil {
		return nil, fmt.Errorf("asymjwt: authorized keys directory: %w", err)
	}
	d := &AuthorizedKeysDir{
		dir:   dir,
		cfg:   cfg,
		files: make(map[string]*authorizedFile),
	}
	// Problems with single files were reported; they do not stop the
	// others from loading. The directory keeps its last good keys while
	// unreadable: no max staleness.
	snap, err := NewKeySnapshots(context.Background(), d.load(false),
		WithSnapshotReloadInterval(cfg.interval), WithSnapshotName("asymjwt: authorized keys"))
	if err != nil {
		return nil, err
	}
	d.snap = snap
	return d, nil
}

// Keys implements KeyStore.
func (d *AuthorizedKeysDir) Keys(ctx context.Context, username, kid string) ([]crypto.PublicKey, error) {
	keys, _, err := d.KeysWithIDs(ctx, username, kid)
	return keys, err
}

// KeysWithIDs implements KeyIDLister.
func (d *AuthorizedKeysDir) KeysWithIDs(ctx context.Context, username, kid string) ([]crypto.PublicKey, []string, error) {
	return d.snap.KeysWithIDs(ctx, username, kid)
}

// Users returns the usernames that have keys, sorted.
func (d *AuthorizedKeysDir) Users() []string {
	users := d.snap.Users()
	names := make([]string, 0, len(users))
	for name, u := range users {
		if len(u.keys) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// UserKeys returns username's keys in file order; nil for a user without
// keys.
func (d *AuthorizedKeysDir) UserKeys(username string) []AuthorizedKey {
	u := d.snap.Users()[username]
	if u == nil {
		return nil
	}
	return u.Keys()
}

// Reload reads every file again now, changed or not, and returns the
// problems it found (also reported as usual). Bad files keep their last
// good keys.
func (d *AuthorizedKeysDir) Reload() error {
	return d.snap.Update(context.Background(), d.load(true))
}

// Close stops polling. Lookups are refused from then on. It is safe to
// call more than once.
func (d *AuthorizedKeysDir) Close() error {
	return d.snap.Close()
}

// load returns the load that brings the snapshot up to date with the
// directory. Unless force is set, a file whose stat is unchanged is not
// read again.
func (d *AuthorizedKeysDir) load(force bool) SnapshotLoad {
	return func(_ context.Context, current map[string]*SnapshotUser) (map[string]*SnapshotUser, error) {
		next, problem := d.reload(force, current)
		if d.cfg.onReload != nil {
			d.cfg.onReload(problem)
		}
		return next, problem
	}
}

func (d *AuthorizedKeysDir) reload(force bool, current map[string]*SnapshotUser) (map[string]*SnapshotUser, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		// Keep every user as they were: a directory briefly unreadable
		// (remounted, permissions fixed) must not lock everyone out.
		err = fmt.Errorf("asymjwt: authorized keys directory: %w", err)
		d.report(err)
		return nil, err
	}
	var (
		problems []error
		next     = make(map[string]*authorizedFile, len(entries))
	)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		prev := d.files[name]
		if err := CheckUsername(name); err != nil {
			if force || prev == nil {
				err = fmt.Errorf("asymjwt: authorized keys: ignoring %s: %w", filepath.Join(d.dir, name), err)
				d.reportLevel(slog.LevelWarn, err)
				problems = append(problems, err)
			}
			next[name] = &authorizedFile{ignored: true}
			continue
		}
		path := filepath.Join(d.dir, name)
		info, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // removed since ReadDir, or a dangling link: no user
		case err != nil:
			next[name] = d.unreadable(prev, force, path, err, &problems)
			continue
		case !info.Mode().IsRegular():
			continue
		}
		if !force && prev != nil && sameFileVersion(prev.info, info) {
			next[name] = prev
			continue
		}
		user, readInfo, err := readAuthorizedKeysFile(path)
		switch {
		case err == nil:
			next[name] = &authorizedFile{info: readInfo, user: user}
		case readInfo == nil:
			next[name] = d.unreadable(prev, force, path, err, &problems)
		default:
			// Read but bad: this version stays bad, so it is read again
			// (and reported again) only when it changes.
			var last *SnapshotUser
			if prev != nil {
				last = prev.user
			}
			next[name] = &authorizedFile{info: readInfo, user: lastGoodOr(last, path, err)}
			err = fmt.Errorf("asymjwt: authorized keys %s: %w", path, err)
			d.report(err)
			problems = append(problems, err)
		}
	}
	d.files = next
	users := make(map[string]*SnapshotUser, len(next))
	for name, f := range next {
		if f.user != nil {
			users[name] = f.user
		}
	}
	if maps.Equal(users, current) {
		return current, errors.Join(problems...)
	}
	d.cfg.logger.LogAttrs(context.Background(), slog.LevelInfo, "asymjwt: authorized keys loaded",
		slog.String("dir", d.dir), slog.Int("users", len(users)))
	return users, errors.Join(problems...)
}

// unreadable is the entry of a file that could not be stat'ed, opened or
// read: such errors pass (permission fixed, descriptors freed, disk back),
// so the version of prev is kept, not the new one, and the next poll
// tries again. The problem is reported when it is new or changed, or on
// Reload.
func (d *AuthorizedKeysDir) unreadable(prev *authorizedFile, force bool, path string, cause error, problems *[]error) *authorizedFile {
	err := fmt.Errorf("asymjwt: authorized keys %s: %w", path, cause)
	f := &authorizedFile{problem: err.Error()}
	var last *SnapshotUser
	if prev != nil {
		f.info, last = prev.info, prev.user
	}
	if force || prev == nil || prev.problem != f.problem {
		d.report(err)
		*problems = append(*problems, err)
	}
	f.user = lastGoodOr(last, path, cause)
	return f
}

// lastGoodOr is what lookups find for the user of path after a failed
// load: the last good keys, or a store error while the file has never
// loaded, so that a chain does not ask the next store about a user this
// one owns.
func lastGoodOr(last *SnapshotUser, path string, cause error) *SnapshotUser {
	err := fmt.Errorf("asymjwt: authorized keys %s never loaded: %w", path, cause)
	if last != nil && (last.err == nil || last.err.Error() == err.Error()) {
		return last // unchanged: no new snapshot
	}
	return NewFailedSnapshotUser(err)
}

func (d *AuthorizedKeysDir) report(err error) { d.reportLevel(slog.LevelError, err) }

func (d *AuthorizedKeysDir) reportLevel(level slog.Level, err error) {
	d.cfg.logger.LogAttrs(context.Background(), level, "asymjwt: authorized keys problem",
		slog.String("error", err.Error()))
	if d.cfg.onError != nil {
		d.cfg.onError(err)
	}
}

// sameFileVersion reports whether two stats show the same version of a
// file: an atomic rename changes the identity, an in-place write the
// modification time or size, and the change time (where the platform has
// one) also catches a rewrite that kept both, since unlike the
// modification time it cannot be set back.
func sameFileVersion(a, b fs.FileInfo) bool {
	if a == nil || !os.SameFile(a, b) || !a.ModTime().Equal(b.ModTime()) ||
		a.Size() != b.Size() || a.Mode() != b.Mode() {
		return false
	}
	ca, okA := changeTime(a)
	cb, okB := changeTime(b)
	return okA == okB && ca.Equal(cb)
}

// readAuthorizedKeysFile reads and parses one user's file. The stat it
// returns is of the file actually read, so a later change is noticed; it
// is nil when the file could not be read at all (an error worth retrying,
// unlike a bad file). A file without keys yields a user without keys.
func readAuthorizedKeysFile(path string) (*SnapshotUser, fs.FileInfo, error) {
	// Non-blocking, so that a file swapped for a FIFO since the caller's
	// stat cannot block the open (under the reload lock, with Close
	// waiting); the stat below then refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|openNonBlock, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("no longer a regular file (%v)", info.Mode().Type())
	}
	if info.Size() > MaxAuthorizedKeysFileSize {
		return nil, info, fmt.Errorf("file is larger than %d bytes", MaxAuthorizedKeysFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxAuthorizedKeysFileSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxAuthorizedKeysFileSize {
		return nil, info, fmt.Errorf("file is larger than %d bytes", MaxAuthorizedKeysFileSize)
	}
	keys, err := ParseAuthorizedKeys(data)
	if err != nil {
		return nil, info, err
	}
	return NewSnapshotUser(keys), info, nil
}
