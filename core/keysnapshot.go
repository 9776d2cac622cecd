package asymjwt

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// SnapshotUser is one user of a KeySnapshots: the keys a key source
// loaded for it, or why the source owns the user but has no keys it can
// use. It is never modified once made.
type SnapshotUser struct {
	keys  []AuthorizedKey
	all   []crypto.PublicKey
	kids  []string       // kids[i] is the fingerprint of all[i]
	index map[string]int // kid -> its first position in all; nil for few keys
	err   error          // set for a user the source owns but could not load
}

// snapshotIndexMin is the number of keys from which a user gets a map
// from kid to key; below it a scan of kids is as fast and a map's memory
// (hundreds of bytes) would dominate a snapshot of many users.
const snapshotIndexMin = 8

// NewSnapshotUser returns a user with keys, each with its KeyID (its
// Fingerprint) set; keys is not kept. A user without keys is known: its
// lookups are answered with ErrUnknownKey, final in a chain.
func NewSnapshotUser(keys []AuthorizedKey) *SnapshotUser {
	u := &SnapshotUser{
		keys: slices.Clone(keys),
		all:  make([]crypto.PublicKey, len(keys)),
		kids: make([]string, len(keys)),
	}
	if len(keys) >= snapshotIndexMin {
		u.index = make(map[string]int, len(keys))
	}
	for i, k := range keys {
		u.all[i], u.kids[i] = k.Public, k.KeyID
		if _, dup := u.index[k.KeyID]; !dup && u.index != nil {
			u.index[k.KeyID] = i
		}
	}
	return u
}

// find returns the first position of kid in u's keys, or -1.
func (u *SnapshotUser) find(kid string) int {
	if u.index == nil {
		return slices.Index(u.kids, kid)
	}
	if i, ok := u.index[kid]; ok {
		return i
	}
	return -1
}

// NewFailedSnapshotUser returns a user that the source owns but could not
// load: its lookups fail with err, a store failure (503), so that a chain
// (ChainKeyStores) does not ask the next store about it.
func NewFailedSnapshotUser(err error) *SnapshotUser {
	return &SnapshotUser{err: err}
}

// Keys returns the user's keys in the order given; nil for a failed user.
func (u *SnapshotUser) Keys() []AuthorizedKey { return slices.Clone(u.keys) }

// Has reports whether the user has a key with kid.
func (u *SnapshotUser) Has(kid string) bool { return u.find(kid) >= 0 }

// Err is why the user could not be loaded; nil for a loaded user.
func (u *SnapshotUser) Err() error { return u.err }

// SnapshotLoad builds the next users of a KeySnapshots, reading the
// source. current is the snapshot in use: read it, never modify it; its
// users may be reused (the same pointer means the same user). It returns:
//
//   - next (possibly current itself) and nil: next is swapped in and the
//     staleness clock restarts;
//   - next and an error: the same, the error reporting problems that did
//     not stop the load (a bad file, a bad row), returned by Reload;
//   - nil and nil: nothing changed, and the source answered, so the
//     staleness clock restarts;
//   - nil and an error: the source could not be read. The last good
//     snapshot stays in use, up to the max staleness.
type SnapshotLoad func(ctx context.Context, current map[string]*SnapshotUser) (next map[string]*SnapshotUser, err error)

// KeySnapshotsOption configures NewKeySnapshots.
type KeySnapshotsOption func(*keySnapshotsConfig)

type keySnapshotsConfig struct {
	interval time.Duration
	maxStale time.Duration
	name     string
}

// WithSnapshotReloadInterval sets how often the load runs in the
// background; d <= 0 (the default) runs it only on Reload and Update.
func WithSnapshotReloadInterval(d time.Duration) KeySnapshotsOption {
	return func(c *keySnapshotsConfig) { c.interval = d }
}

// WithSnapshotMaxStaleness sets how long after its last successful load
// a snapshot is still used while loads fail. Past it, every lookup fails
// as a store error (503, fail closed) until a load succeeds. d <= 0 (the
// default) keeps the last good snapshot forever: right for a source that
// cannot change without being readable (a local directory), not for one
// across a network.
func WithSnapshotMaxStaleness(d time.Duration) KeySnapshotsOption {
	return func(c *keySnapshotsConfig) { c.maxStale = d }
}

// WithSnapshotName names the source in errors (default "asymjwt: key
// snapshot").
func WithSnapshotName(name string) KeySnapshotsOption {
	return func(c *keySnapshotsConfig) { c.name = name }
}

// KeySnapshots is the mechanism shared by key stores that load all their
// users' keys from a source into memory (AuthorizedKeysDir, the SQL key
// store): lookups read an immutable snapshot, O(1) by username and kid,
// without lock or allocation; a load builds the next snapshot and swaps
// it in atomically, so requests are never dropped; a failed load keeps
// the last good snapshot, for at most the max staleness; loads run one
// at a time, periodically and when asked (Reload, Update). Close stops
// them; a closed KeySnapshots refuses every lookup.
//
// Lookups answer ErrUnknownUser for a name not in the snapshot,
// ErrUnknownKey for a user without the kid (or without keys), the user's
// error for a failed user, and a store error once stale or closed.
type KeySnapshots struct {
	cfg   keySnapshotsConfig
	load  SnapshotLoad
	state atomic.Pointer[snapshotState]

	mu     sync.Mutex // serializes loads; guards closed
	closed bool
	fresh  freshness // goes stale max staleness after the last successful load

	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	closeOnce sync.Once
	done      chan struct{} // closed when the reload goroutine returned; nil without one
}

// snapshotState is what lookups read; replaced, never modified.
type snapshotState struct {
	users   map[string]*SnapshotUser
	loaded  time.Time // the last successful load
	lastErr error     // why the loads since loaded failed
	closed  bool
}

// NewKeySnapshots runs load once and returns its snapshot, then, with a
// reload interval, runs load periodically until Close. It fails when that
// first load could not read the source: a key store must not start
// empty, refusing everyone, or half-loaded.
func NewKeySnapshots(ctx context.Context, load SnapshotLoad, opts ...KeySnapshotsOption) (*KeySnapshots, error) {
	cfg := keySnapshotsConfig{name: "asymjwt: key snapshot"}
	for _, o := range opts {
		o(&cfg)
	}
	s := &KeySnapshots{cfg: cfg, load: load}
	s.state.Store(&snapshotState{users: map[string]*SnapshotUser{}})
	next, err := load(ctx, s.state.Load().users)
	if next == nil && err != nil {
		return nil, err
	}
	s.swap(next)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.interval > 0 {
		s.done = make(chan struct{})
		go s.poll()
	}
	return s, nil
}

// Keys implements KeyStore.
func (s *KeySnapshots) Keys(ctx context.Context, username, kid string) ([]crypto.PublicKey, error) {
	keys, _, err := s.KeysWithIDs(ctx, username, kid)
	return keys, err
}

// KeysWithIDs implements KeyIDLister.
func (s *KeySnapshots) KeysWithIDs(_ context.Context, username, kid string) ([]crypto.PublicKey, []string, error) {
	st := s.state.Load()
	if err := s.unusable(st); err != nil {
		return nil, nil, err
	}
	u := st.users[username]
	switch {
	case u == nil:
		return nil, nil, ErrUnknownUser
	case u.err != nil:
		return nil, nil, u.err
	case kid == "" && len(u.all) == 0:
		return nil, nil, ErrUnknownKey
	case kid == "":
		return u.all, u.kids, nil
	}
	if i := u.find(kid); i >= 0 {
		return u.all[i : i+1 : i+1], u.kids[i : i+1 : i+1], nil
	}
	return nil, nil, ErrUnknownKey
}

// Check returns the store error lookups get now (closed, or stale), or
// nil when the snapshot may be used.
func (s *KeySnapshots) Check() error { return s.unusable(s.state.Load()) }

func (s *KeySnapshots) unusable(st *snapshotState) error {
	switch {
	case st.closed:
		return errStoreClosed
	case s.cfg.maxStale > 0 && s.fresh.stale():
		cause := st.lastErr
		if cause == nil {
			cause = errors.New("no load attempted")
		}
		return fmt.Errorf("%s: no successful load since %s, over the max staleness of %v: %w",
			s.cfg.name, st.loaded.Format(time.RFC3339), s.cfg.maxStale, cause)
	}
	return nil
}

// Users returns the snapshot in use, username to user. It is shared:
// read it, never modify it. Empty once closed.
func (s *KeySnapshots) Users() map[string]*SnapshotUser { return s.state.Load().users }

// Loaded returns when the last successful load ended, and why the loads
// since then failed (nil when the last one succeeded).
func (s *KeySnapshots) Loaded() (time.Time, error) {
	st := s.state.Load()
	return st.loaded, st.lastErr
}

// Reload runs the load now (waiting for one in progress first) and
// returns its error.
func (s *KeySnapshots) Reload(ctx context.Context) error { return s.Update(ctx, s.load) }

// Update runs load instead of the usual one, now, serialized with the
// others and with the same meaning of its results: a partial load, say,
// of the users a change notification named.
func (s *KeySnapshots) Update(ctx context.Context, load SnapshotLoad) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStoreClosed
	}
	cur := s.state.Load()
	next, err := load(ctx, cur.users)
	if next == nil && err != nil {
		st := *cur
		st.lastErr = err
		s.state.Store(&st)
		return err
	}
	s.swap(next)
	return err
}

// swap makes next (nil: the current users) the snapshot, loaded now.
func (s *KeySnapshots) swap(next map[string]*SnapshotUser) {
	if next == nil {
		next = s.state.Load().users
	}
	loaded := time.Now() // before the timer starts: stale no sooner than loaded + max staleness
	if s.cfg.maxStale > 0 {
		s.fresh.renew(s.cfg.maxStale)
	}
	s.state.Store(&snapshotState{users: next, loaded: loaded})
}

// Close stops the periodic loads, waiting for one in progress (its
// context is canceled). Lookups are refused from then on. It is safe to
// call more than once.
func (s *KeySnapshots) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		if s.done != nil {
			<-s.done
		}
		s.mu.Lock()
		s.closed = true
		s.fresh.stop()
		s.state.Store(&snapshotState{closed: true})
		s.mu.Unlock()
	})
	return nil
}

func (s *KeySnapshots) poll() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			// The load reported its problems; polling goes on.
			if err := s.Reload(s.ctx); errors.Is(err, errStoreClosed) {
				return
			}
		}
	}
}

// freshness is the staleness bound of a key source's last good keys
// (KeySnapshots, and each set of a JWKSTrust): stale until the first
// successful load, then for d after each (renew). A timer marks it, so
// that lookups read a flag instead of the clock. Safe for concurrent use.
type freshness struct {
	mu    sync.Mutex // guards timer
	timer *time.Timer
	flag  atomic.Pointer[atomic.Bool] // set when stale; nil before the first renew
}

// renew starts a fresh period of d: a load succeeded.
func (f *freshness) renew(d time.Duration) {
	stale := new(atomic.Bool)
	f.mu.Lock()
	if f.timer != nil {
		f.timer.Stop()
	}
	f.timer = time.AfterFunc(d, func() { stale.Store(true) })
	f.flag.Store(stale)
	f.mu.Unlock()
}

// stale reports whether the last renew is over d ago, or never happened.
func (f *freshness) stale() bool {
	flag := f.flag.Load()
	return flag == nil || flag.Load()
}

// stop releases the timer; stale stays as it is.
func (f *freshness) stop() {
	f.mu.Lock()
	if f.timer != nil {
		f.timer.Stop()
	}
	f.mu.Unlock()
}
