package asymjwtsql

import (
	"context"
	"crypto"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/jackc/pgx/v5/stdlib"
)

// Defaults of a Store.
const (
	// DefaultPostgresReloadInterval is how often a Store on PostgreSQL
	// reloads every key, the safety net under LISTEN/NOTIFY: it bounds
	// the revocation delay when notifications are lost.
	DefaultPostgresReloadInterval = 30 * time.Second
	// DefaultSQLitePollInterval is how often a Store on SQLite checks
	// PRAGMA data_version (one query, no I/O), reloading when another
	// connection changed the file: it bounds the revocation delay.
	DefaultSQLitePollInterval = time.Second
	// DefaultMaxStaleness is how long after its last successful load a
	// Store keeps serving its keys while the database cannot be read;
	// then every lookup fails (503) until a load succeeds.
	DefaultMaxStaleness = 5 * time.Minute
	// DefaultLastUsedInterval is how often recorded key uses are written.
	DefaultLastUsedInterval = time.Minute
	// listenRetry is the wait before the listener connects again.
	listenRetry = time.Second
	// notifyBatch is how long the listener gathers notifications before
	// loading their users, and notifyMaxUsers how many users it loads one
	// by one before a full reload is cheaper.
	notifyBatch    = 2 * time.Millisecond
	notifyMaxUsers = 200
	// channel is the NOTIFY channel of the schema's triggers.
	channel = "asymjwt_keys"
)

// Option configures New.
type Option func(*config)

type config struct {
	interval    time.Duration
	maxStale    time.Duration
	usedEvery   time.Duration
	logger      *slog.Logger
	onError     func(error)
	jwksOpts    []asymjwt.JWKSTrustOption
	listenRetry time.Duration
	onReload    func(error)
}

// WithReloadInterval sets how often the store checks the database: on
// PostgreSQL, the period of its full reload (default 30 s), on SQLite of
// its PRAGMA data_version check (default 1 s).
func WithReloadInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.interval = d
		}
	}
}

// WithMaxStaleness sets how long after its last successful load the
// store keeps serving its keys while the database cannot be read
// (default 5 min): the longest a database outage is hidden from clients,
// and the longest a key revoked meanwhile stays trusted by an instance
// cut off from the database. Past it, every lookup fails as a store error
// (503, fail closed) until a load succeeds. It is raised, if below, to
// twice the reload interval.
func WithMaxStaleness(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.maxStale = d
		}
	}
}

// WithLastUsedInterval sets how often recorded key uses are written to
// the database (default 1 min): each key's last_used_at is written at
// most once per interval, all keys in one transaction.
func WithLastUsedInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.usedEvery = d
		}
	}
}

// WithLogger sets where loads (Info), problems (Error: rows skipped,
// failed loads and writes) go; default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithErrorHandler calls fn with every problem: a row that does not parse
// (bad or weak key, kid that is not the key's fingerprint, bad username
// or JWKS URL; reported once, not at every reload), a failed load, a
// failed write of last uses. fn runs on the loading goroutine: keep it
// short.
func WithErrorHandler(fn func(error)) Option {
	return func(c *config) { c.onError = fn }
}

// WithReloadHandler calls fn after every load (the first, each periodic
// check or reload, each reload of notified users) with how it went: nil,
// the problems it newly reported (rows skipped), or why it could not read
// the database. It is meant for metrics; fn runs on the loading
// goroutine: keep it short, and call neither Reload nor Close.
func WithReloadHandler(fn func(error)) Option {
	return func(c *config) { c.onReload = fn }
}

// WithJWKSOptions configures the asymjwt.JWKSTrust that serves the users
// with a JWKS trust row.
func WithJWKSOptions(opts ...asymjwt.JWKSTrustOption) Option {
	return func(c *config) { c.jwksOpts = append(c.jwksOpts, opts...) }
}

// Store is an asymjwt.KeyStore (also a KeyIDLister and KeyUseRecorder) on
// the tables Migrate creates, for services running as many instances that
// share one database, or as one on a SQLite file.
//
// Lookups never query the database: the store holds every unrevoked key
// in memory (asymjwt.KeySnapshots: O(1) by username and kid, no lock, no
// allocation) and follows the database. On PostgreSQL it LISTENs on a
// connection of its own; the schema's triggers NOTIFY the changed
// username, whose rows it then reloads, typically within milliseconds of
// the commit; a full reload every reload interval catches what
// notifications missed (a lost connection: it reconnects after a second
// and reloads everything). On SQLite it checks PRAGMA data_version every
// reload interval and reloads when the file changed.
//
// A row that does not parse is reported and skipped; a user whose rows
// all fail is refused as a store failure (503), so that a chain does not
// ask the next store about it. Users with a JWKS trust row get their keys
// through an asymjwt.JWKSTrust; a user with both keys and a trust is
// served from its keys first, and from the JWKS for a kid not among them.
//
// New fails when the database cannot be read. While it cannot be read
// later, the last loaded keys serve for the max staleness, then lookups
// fail (503) until a load succeeds.
//
// Successful verifications are recorded in memory (KeyUsed: no I/O) and
// written to last_used_at in batches, each key at most once per last-used
// interval; a failed write is reported and retried at the next interval,
// never refusing or delaying a request. Close writes what is pending.
type Store struct {
	db   *sql.DB
	d    dialect
	cfg  config
	snap *asymjwt.KeySnapshots
	jwks *asymjwt.JWKSTrust

	trusts atomic.Pointer[map[string]string] // username -> JWKS URL; replaced, never modified

	// Owned by the loads, which snap serializes.
	problems  map[string]bool                     // problems reported by the last full load
	failure   string                              // the load failure last reported; "" after a success
	parsed    map[parsedKey]asymjwt.AuthorizedKey // good rows of the last loads, so reloads parse only what changed
	dataVer   int64                               // SQLite: PRAGMA data_version at the last load
	fullLoads atomic.Int64

	conn   *sql.Conn  // SQLite: data_version is per connection; PostgreSQL: the listener's
	connMu sync.Mutex // guards conn on SQLite (loads and flushes share it)

	uses    usage
	flushMu sync.Mutex // serializes Flush

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New loads every key of db (at the current schema version, see Migrate)
// and starts following it. It fails when db cannot be read. The store
// keeps one connection of db's pool for itself (PostgreSQL: to LISTEN;
// SQLite: to poll data_version and write last uses), so on PostgreSQL the
// pool must allow at least two (database/sql's default has no limit).
func New(ctx context.Context, db *sql.DB, opts ...Option) (*Store, error) {
	d, err := dialectOf(db)
	if err != nil {
		return nil, err
	}
	cfg := config{maxStale: DefaultMaxStaleness, usedEvery: DefaultLastUsedInterval, listenRetry: listenRetry}
	if d == postgres {
		cfg.interval = DefaultPostgresReloadInterval
	} else {
		cfg.interval = DefaultSQLitePollInterval
	}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.maxStale = max(cfg.maxStale, 2*cfg.interval)
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if err := checkSchema(ctx, db); err != nil {
		return nil, err
	}
	s := &Store{db: db, d: d, cfg: cfg, jwks: asymjwt.NewJWKSTrust(append([]asymjwt.JWKSTrustOption{asymjwt.WithJWKSLogger(cfg.logger)}, cfg.jwksOpts...)...)}
	s.uses.m = make(map[keyUse]*use)
	s.trusts.Store(&map[string]string{})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	fail := func(err error) (*Store, error) {
		s.cancel()
		if s.conn != nil {
			_ = s.conn.Close()
		}
		_ = s.jwks.Close()
		return nil, err
	}
	// The connection is taken before the first load: on PostgreSQL,
	// LISTEN then runs before it, so no change between the two is missed.
	if s.conn, err = db.Conn(ctx); err != nil {
		return fail(fmt.Errorf("asymjwtsql: connecting: %w", err))
	}
	if d == postgres {
		if err := s.listen(ctx, s.conn); err != nil {
			return fail(fmt.Errorf("asymjwtsql: LISTEN: %w", err))
		}
	}
	s.snap, err = asymjwt.NewKeySnapshots(ctx, s.load,
		asymjwt.WithSnapshotReloadInterval(cfg.interval),
		asymjwt.WithSnapshotMaxStaleness(cfg.maxStale),
		asymjwt.WithSnapshotName("asymjwtsql: keys"))
	if err != nil {
		return fail(err)
	}
	if d == postgres {
		s.wg.Add(1)
		go s.listenLoop(s.conn)
	}
	s.wg.Add(1)
	go s.flushLoop()
	return s, nil
}

// Keys implements asymjwt.KeyStore.
func (s *Store) Keys(ctx context.Context, username, kid string) ([]crypto.PublicKey, error) {
	keys, _, err := s.KeysWithIDs(ctx, username, kid)
	return keys, err
}

// KeysWithIDs implements asymjwt.KeyIDLister; the kids are nil for keys
// from a JWKS.
func (s *Store) KeysWithIDs(ctx context.Context, username, kid string) ([]crypto.PublicKey, []string, error) {
	keys, kids, err := s.snap.KeysWithIDs(ctx, username, kid)
	if err == nil || !errors.Is(err, asymjwt.ErrUnknownUser) && !errors.Is(err, asymjwt.ErrUnknownKey) {
		return keys, kids, err
	}
	if _, ok := (*s.trusts.Load())[username]; !ok {
		return nil, nil, err
	}
	keys, jerr := s.jwks.Keys(ctx, username, kid)
	if errors.Is(jerr, asymjwt.ErrUnknownUser) {
		return nil, nil, err // untrusted since
	}
	return keys, nil, jerr
}

// Reload reads every key from the database now, and returns the
// problems found (rows skipped) or why it could not.
func (s *Store) Reload(ctx context.Context) error {
	return s.snap.Update(ctx, func(ctx context.Context, current map[string]*asymjwt.SnapshotUser) (map[string]*asymjwt.SnapshotUser, error) {
		return s.loadWith(ctx, current, true)
	})
}

// Loaded returns when the last successful load ended, and why the loads
// since then failed (nil when the last one succeeded): for health checks.
func (s *Store) Loaded() (time.Time, error) { return s.snap.Loaded() }

// Users returns the number of users with keys loaded, and of users with a
// JWKS trust.
func (s *Store) Users() (keys, jwks int) {
	return len(s.snap.Users()), len(*s.trusts.Load())
}

// Close stops following the database, writes the pending key uses
// (bounded by ctx of 5 s) and releases its connection. Lookups are
// refused from then on. It is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.Flush(ctx) // while the keys are loaded: they route the writes
		_ = s.snap.Close()
		_ = s.jwks.Close()
		s.connMu.Lock()
		_ = s.conn.Close()
		s.connMu.Unlock()
	})
	return err
}

func (s *Store) report(err error) {
	s.cfg.logger.LogAttrs(context.Background(), slog.LevelError, "asymjwtsql: problem", slog.String("error", err.Error()))
	if s.cfg.onError != nil {
		s.cfg.onError(err)
	}
}

// row is one key row as read.
type row struct{ username, kid, text string }

// parsedKey identifies a row's content: a row is parsed again only when
// its key text changed.
type parsedKey struct {
	username, kid string
	sum           [sha256.Size]byte
}

// load is the periodic load: a full reload on PostgreSQL; on SQLite one
// only when data_version moved.
func (s *Store) load(ctx context.Context, current map[string]*asymjwt.SnapshotUser) (map[string]*asymjwt.SnapshotUser, error) {
	return s.loadWith(ctx, current, false)
}

func (s *Store) loadWith(ctx context.Context, _ map[string]*asymjwt.SnapshotUser, force bool) (map[string]*asymjwt.SnapshotUser, error) {
	if s.d == sqlite3 {
		s.connMu.Lock()
		defer s.connMu.Unlock()
		var v int64
		if err := s.conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
			return nil, s.failed(err)
		}
		if v == s.dataVer && s.fullLoads.Load() > 0 && !force {
			s.reloaded(nil)
			return nil, nil // unchanged; the database answered
		}
		next, err := s.loadAll(ctx, s.conn)
		if err == nil || next != nil {
			s.dataVer = v
		}
		return next, err
	}
	return s.loadAll(ctx, s.db)
}

type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// failed reports a load that could not read the database: once while
// the failure lasts unchanged, not at every poll.
func (s *Store) failed(err error) error {
	if errors.Is(err, context.Canceled) && s.ctx.Err() != nil {
		return err // closing
	}
	err = fmt.Errorf("asymjwtsql: loading keys (the last loaded keys stay in use up to the max staleness): %w", err)
	if msg := err.Error(); msg != s.failure {
		s.failure = msg
		s.report(err)
	}
	s.reloaded(err)
	return err
}

// loadAll reads every key and trust, in one read-only transaction so the
// two agree.
func (s *Store) loadAll(ctx context.Context, q txBeginner) (map[string]*asymjwt.SnapshotUser, error) {
	rows, trusts, err := s.read(ctx, q, "")
	if err != nil {
		return nil, s.failed(err)
	}
	s.failure = ""
	users, problems := s.build(rows, true)
	problems = s.syncTrusts(trusts, nil, problems)
	n := s.fullLoads.Add(1)
	all := s.notice(problems, true)
	level := slog.LevelDebug
	if n == 1 || len(users) != len(s.snap.Users()) {
		level = slog.LevelInfo
	}
	s.cfg.logger.LogAttrs(ctx, level, "asymjwtsql: keys loaded",
		slog.Int("users", len(users)), slog.Int("jwks_users", len(trusts)), slog.Int("rows", len(rows)), slog.Int("skipped", len(problems)))
	return users, all
}

// notice reports the problems of a load that are new (a row that stays
// bad is reported once), passes them to the reload handler, and returns
// them all. full says the load saw every row, so that problems gone are
// forgotten.
func (s *Store) notice(problems []error, full bool) error {
	seen, next := s.problems, s.problems
	if full || next == nil {
		next = make(map[string]bool, len(problems))
	}
	var fresh []error
	for _, p := range problems {
		msg := p.Error()
		if !seen[msg] && !next[msg] {
			fresh = append(fresh, p)
		}
		next[msg] = true
	}
	s.problems = next
	for _, p := range fresh {
		s.report(p)
	}
	s.reloaded(errors.Join(fresh...))
	return errors.Join(problems...)
}

// reloaded tells the reload handler how a load went.
func (s *Store) reloaded(err error) {
	if s.cfg.onReload != nil {
		s.cfg.onReload(err)
	}
}

// loadUsers reloads only the named users, into a copy of current.
func (s *Store) loadUsers(names []string) asymjwt.SnapshotLoad {
	return func(ctx context.Context, current map[string]*asymjwt.SnapshotUser) (map[string]*asymjwt.SnapshotUser, error) {
		var (
			rows   []row
			trusts = map[string]string{}
		)
		for _, name := range names {
			r, t, err := s.read(ctx, s.db, name)
			if err != nil {
				return nil, s.failed(err)
			}
			rows = append(rows, r...)
			maps.Copy(trusts, t)
		}
		users, problems := s.build(rows, false)
		next := maps.Clone(current)
		for _, name := range names {
			delete(next, name)
		}
		maps.Copy(next, users)
		problems = s.syncTrusts(trusts, names, problems)
		return next, s.notice(problems, false)
	}
}

// read returns the unrevoked key rows and the trusts of username, or of
// everyone for "".
func (s *Store) read(ctx context.Context, q txBeginner, username string) ([]row, map[string]string, error) {
	var opts *sql.TxOptions
	if s.d == postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := q.BeginTx(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read only
	where, args := "", []any(nil)
	if username != "" {
		where, args = " AND username = $1", []any{username}
	}
	rs, err := tx.QueryContext(ctx, s.d.q(`SELECT username, kid, public_key FROM asymjwt_keys WHERE revoked_at IS NULL`+where+` ORDER BY username, created_at, kid`), args...)
	if err != nil {
		return nil, nil, err
	}
	var rows []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.username, &r.kid, &r.text); err != nil {
			rs.Close()
			return nil, nil, err
		}
		rows = append(rows, r)
	}
	if err := errors.Join(rs.Err(), rs.Close()); err != nil {
		return nil, nil, err
	}
	if username != "" {
		where = " WHERE username = $1"
	}
	ts, err := tx.QueryContext(ctx, s.d.q(`SELECT username, url FROM asymjwt_jwks_trusts`+where), args...)
	if err != nil {
		return nil, nil, err
	}
	defer ts.Close()
	trusts := map[string]string{}
	for ts.Next() {
		var u, url string
		if err := ts.Scan(&u, &url); err != nil {
			return nil, nil, err
		}
		trusts[u] = url
	}
	return rows, trusts, ts.Err()
}

// build parses rows (grouped by username) into users. A bad row is a
// problem, skipped; a user whose every row is bad is a failed user. A row
// seen before with the same text is not parsed again; full says the rows
// are all of them, so that rows gone are forgotten.
func (s *Store) build(rows []row, full bool) (map[string]*asymjwt.SnapshotUser, []error) {
	users := make(map[string]*asymjwt.SnapshotUser)
	parsed := s.parsed
	if full || parsed == nil {
		parsed = make(map[parsedKey]asymjwt.AuthorizedKey, len(rows))
	}
	var (
		problems []error
		keys     []asymjwt.AuthorizedKey
		bad      error
	)
	flush := func(name string) {
		switch {
		case len(keys) > 0:
			users[name] = asymjwt.NewSnapshotUser(keys)
		case bad != nil:
			users[name] = asymjwt.NewFailedSnapshotUser(fmt.Errorf("asymjwtsql: user %q has no usable key: %w", name, bad))
		}
		keys, bad = keys[:0], nil
	}
	for i, r := range rows {
		if i > 0 && rows[i-1].username != r.username {
			flush(rows[i-1].username)
		}
		pk := parsedKey{r.username, r.kid, sha256.Sum256([]byte(r.text))}
		k, ok := s.parsed[pk]
		var err error
		if !ok {
			k, err = parseRow(r)
		}
		if err != nil {
			err = fmt.Errorf("asymjwtsql: skipping key %q of user %q: %w", r.kid, r.username, err)
			problems = append(problems, err)
			bad = err
			continue
		}
		parsed[pk] = k
		keys = append(keys, k)
	}
	if len(rows) > 0 {
		flush(rows[len(rows)-1].username)
	}
	s.parsed = parsed
	return users, problems
}

func parseRow(r row) (asymjwt.AuthorizedKey, error) {
	if err := asymjwt.CheckUsername(r.username); err != nil {
		return asymjwt.AuthorizedKey{}, err
	}
	if len(r.text) > MaxKeyText {
		return asymjwt.AuthorizedKey{}, fmt.Errorf("%w: key text over %d bytes", asymjwt.ErrInvalidKey, MaxKeyText)
	}
	pub, err := asymjwt.ParsePublicKey([]byte(r.text))
	if err != nil {
		return asymjwt.AuthorizedKey{}, err
	}
	kid, err := asymjwt.Fingerprint(pub)
	if err != nil {
		return asymjwt.AuthorizedKey{}, err
	}
	if kid != r.kid {
		return asymjwt.AuthorizedKey{}, fmt.Errorf("%w: kid column is not the key's fingerprint %s", asymjwt.ErrInvalidKey, kid)
	}
	return asymjwt.AuthorizedKey{Public: pub, KeyID: kid}, nil
}

// syncTrusts makes the JWKS trust follow the rows: of everyone when only
// is nil, else of the users in only. Bad rows are added to problems,
// which it returns.
func (s *Store) syncTrusts(rows map[string]string, only []string, problems []error) []error {
	cur := *s.trusts.Load()
	next := make(map[string]string, len(cur))
	if only != nil {
		maps.Copy(next, cur)
		for _, name := range only {
			delete(next, name)
		}
	}
	for user, url := range rows {
		if err := asymjwt.CheckUsername(user); err != nil {
			problems = append(problems, fmt.Errorf("asymjwtsql: skipping JWKS trust of user %q: %w", user, err))
			continue
		}
		if err := s.jwks.Trust(user, url); err != nil {
			problems = append(problems, fmt.Errorf("asymjwtsql: skipping JWKS trust of user %q: %w", user, err))
			continue
		}
		next[user] = url
	}
	for user := range cur {
		if _, ok := next[user]; !ok && (only == nil || slices.Contains(only, user)) {
			s.jwks.Untrust(user)
		}
	}
	s.trusts.Store(&next)
	return problems
}

// listen runs LISTEN on conn.
func (s *Store) listen(ctx context.Context, conn *sql.Conn) error {
	return conn.Raw(func(dc any) error {
		_, err := dc.(*stdlib.Conn).Conn().Exec(ctx, "LISTEN "+channel)
		return err
	})
}

// listenLoop waits for notifications on conn, and when the connection
// fails, takes another, LISTENs and reloads everything (what was missed
// meanwhile), until Close.
func (s *Store) listenLoop(conn *sql.Conn) {
	defer s.wg.Done()
	for {
		err := s.wait(conn)
		_ = conn.Close()
		if s.ctx.Err() != nil {
			return
		}
		s.report(fmt.Errorf("asymjwtsql: LISTEN connection lost (the periodic reload goes on): %w", err))
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(s.cfg.listenRetry):
			}
			c, err := s.db.Conn(s.ctx)
			if err == nil {
				if err = s.listen(s.ctx, c); err == nil {
					conn = c
					break
				}
				_ = c.Close()
			}
			if s.ctx.Err() != nil {
				return
			}
		}
		s.connMu.Lock()
		s.conn = conn
		s.connMu.Unlock()
		_ = s.snap.Reload(s.ctx) // reported by the load
	}
}

// wait handles notifications until the connection fails. The connection
// is then discarded, not returned to the pool: it is still listening.
func (s *Store) wait(conn *sql.Conn) error {
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		for {
			n, err := pc.WaitForNotification(s.ctx)
			if err != nil {
				return errors.Join(err, driver.ErrBadConn)
			}
			names := map[string]bool{n.Payload: true}
			// Gather the burst (a bulk import notifies once per row).
			deadline := time.Now().Add(notifyBatch)
			for len(names) <= notifyMaxUsers {
				ctx, cancel := context.WithDeadline(s.ctx, deadline)
				n, err := pc.WaitForNotification(ctx)
				cancel()
				if err != nil {
					if s.ctx.Err() != nil || !pc.IsClosed() && errors.Is(err, context.DeadlineExceeded) {
						break
					}
					return errors.Join(err, driver.ErrBadConn)
				}
				names[n.Payload] = true
			}
			if s.ctx.Err() != nil {
				return errors.Join(s.ctx.Err(), driver.ErrBadConn)
			}
			if names[""] || len(names) > notifyMaxUsers {
				_ = s.snap.Reload(s.ctx)
				continue
			}
			list := make([]string, 0, len(names))
			for name := range names {
				list = append(list, name)
			}
			_ = s.snap.Update(s.ctx, s.loadUsers(list)) // reported by the load
		}
	})
}
