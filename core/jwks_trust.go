package asymjwt

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of a JWKSTrust.
const (
	// DefaultJWKSRefreshFloor is the shortest time a fetched set is used
	// before it is fetched again, whatever its Cache-Control says.
	DefaultJWKSRefreshFloor = time.Minute
	// DefaultJWKSRefreshCeiling is the longest: while the endpoint
	// answers, a revoked key is dropped at most this long after its
	// client removed it. While it fails, see DefaultJWKSMaxStaleness.
	DefaultJWKSRefreshCeiling = time.Hour
	// DefaultJWKSMaxStaleness is how long after its last successful fetch
	// a set is still used while its endpoint fails. Past it, the users of
	// that URL are refused as a store failure (503) until a fetch
	// succeeds.
	DefaultJWKSMaxStaleness = 24 * time.Hour
	// DefaultJWKSRefresh is used when a response has no max-age.
	DefaultJWKSRefresh = 5 * time.Minute
	// DefaultJWKSMinRefreshInterval is the least time between two fetches
	// of one URL, whatever triggers them (a token with an unknown kid, a
	// retry after a failure).
	DefaultJWKSMinRefreshInterval = 30 * time.Second
	// DefaultJWKSMaxResponseSize bounds a JWKS response body.
	DefaultJWKSMaxResponseSize = 1 << 20
	// DefaultJWKSFetchTimeout bounds one fetch: connecting, waiting and
	// reading the body.
	DefaultJWKSFetchTimeout = 10 * time.Second
)

// JWKSTrustOption configures NewJWKSTrust. Durations and sizes <= 0 keep
// the default.
type JWKSTrustOption func(*jwksTrustConfig)

type jwksTrustConfig struct {
	client         *http.Client
	floor, ceiling time.Duration
	minInterval    time.Duration
	maxSize        int64
	timeout        time.Duration
	maxStale       time.Duration
	logger         *slog.Logger
	onReload       func(error)
	allowHTTP      bool
	anyHost        bool // redirects may leave the host of the trusted URL
}

// WithJWKSHTTPClient sets the client that fetches the sets (default: a
// client of its own with a clone of http.DefaultTransport). Use it for a
// custom CA pool or proxy. Redirects to plain http, or to another host,
// are refused either way; the client's own CheckRedirect runs after.
func WithJWKSHTTPClient(c *http.Client) JWKSTrustOption {
	return func(cfg *jwksTrustConfig) { cfg.client = c }
}

// WithJWKSRefreshBounds sets the range a response's Cache-Control max-age
// is clamped to (default 1 min to 1 h). A ceiling below the floor is
// raised to it.
func WithJWKSRefreshBounds(floor, ceiling time.Duration) JWKSTrustOption {
	return func(cfg *jwksTrustConfig) {
		if floor > 0 {
			cfg.floor = floor
		}
		if ceiling > 0 {
			cfg.ceiling = ceiling
		}
	}
}

// WithJWKSMinRefreshInterval sets the least time between two fetches of
// one URL (default 30 s). It is what stops a flood of tokens with unknown
// kids from becoming a flood of fetches: within the interval such tokens
// are refused without a fetch.
func WithJWKSMinRefreshInterval(d time.Duration) JWKSTrustOption {
	return func(cfg *jwksTrustConfig) {
		if d > 0 {
			cfg.minInterval = d
		}
	}
}

// WithJWKSMaxResponseSize bounds a response body (default 1 MiB); a
// larger one fails the fetch.
func WithJWKSMaxResponseSize(n int64) JWKSTrustOption {
	return func(cfg *jwksTrustConfig) {
		if n > 0 {
			cfg.maxSize = n
		}
	}
}

// WithJWKSFetchTimeout bounds one fetch (default 10 s).
func WithJWKSFetchTimeout(d time.Duration) JWKSTrustOption {
	return func(cfg *jwksTrustConfig) {
		if d > 0 {
			cfg.timeout = d
		}
	}
}

// WithJWKSMaxStaleness sets how long after its last successful fetch a
// set is still used while its endpoint fails (default 24 h): a network
// error, a timeout, a bad answer, and also 404 or 410, since an endpoint
// that is misconfigured for a while must not lock its users out at once.
// Past it, lookups for the URL's users fail as a store error (503) until
// a fetch succeeds again, so a key that was revoked while the endpoint
// was down, or the keys of a client whose endpoint is gone for good, are
// not trusted forever. It is raised, if below, to the refresh ceiling (or
// the min refresh interval, if longer) plus the fetch timeout, so that
// the set of an endpoint that answers never goes stale.
func WithJWKSMaxStaleness(d time.Duration) JWKSTrustOption {
	return func(cfg *jwksTrustConfig) {
		if d > 0 {
			cfg.maxStale = d
		}
	}
}

// InsecureJWKSAllowRedirectsToAnyHost lets a JWKS URL redirect to any
// https URL. By default a redirect must stay on the host and port of the
// trusted URL, so that a trusted endpoint cannot send the verifier to
// fetch from hosts of its choosing (internal ones, say). The redirected
// set still only vouches for the users of the URL that was trusted.
func InsecureJWKSAllowRedirectsToAnyHost() JWKSTrustOption {
	return func(cfg *jwksTrustConfig) { cfg.anyHost = true }
}

// WithJWKSLogger sets where fetch failures (Warn) and refreshes (Debug)
// are logged; default slog.Default().
func WithJWKSLogger(l *slog.Logger) JWKSTrustOption {
	return func(cfg *jwksTrustConfig) { cfg.logger = l }
}

// WithJWKSReloadHandler calls fn after every fetch of every trusted set
// with its result: nil for a set fetched (or not modified), else why it
// failed (the error names the URL; the last good set stays in use).
// Fetches stopped by Close or Untrust are not passed. It is meant for
// metrics (reloads, failures, time of the last good load); fn runs on
// the set's refresh goroutine: keep it short.
func WithJWKSReloadHandler(fn func(error)) JWKSTrustOption {
	return func(cfg *jwksTrustConfig) { cfg.onReload = fn }
}

// InsecureJWKSAllowHTTP lets Trust take plain http URLs. Anyone on the
// path of a plain http fetch can put their own key in the set and then
// authenticate as that user: use it only for tests and loopback.
func InsecureJWKSAllowHTTP() JWKSTrustOption {
	return func(cfg *jwksTrustConfig) { cfg.allowHTTP = true }
}

// JWKSTrust is a KeyStore whose users' keys come from each client's own
// JWKS URL, as the Python library's JWKSEndpointTrust: a client rotates
// its keys by publishing them, and the server follows.
//
// Each URL is fetched by a goroutine of its own, at once when it is first
// trusted, then again when the set expires: its Cache-Control max-age
// (minus Age; no-cache and no-store count as 0; DefaultJWKSRefresh when
// absent) clamped to the refresh bounds. The goroutine revalidates with
// If-None-Match when the server sent an ETag. A token whose kid is not in
// the set triggers one early fetch, but no two fetches of a URL start
// less than the min refresh interval apart, so tokens with made-up kids
// are refused without reaching the network. While a URL fails (network,
// timeout, any status other than 200 or 304, 404 and 410 included, body
// over the size limit, bad JSON), the last good set stays in use, up to
// the max staleness (24 h by default) after its last successful fetch,
// and the fetch is retried after the min interval. So the refresh ceiling
// bounds how long a revoked key stays trusted only while the endpoint
// answers; while it fails, the max staleness does. Until a URL's first
// fetch succeeded, and once its set is past the max staleness, its users'
// tokens wait for a fetch (at most the fetch timeout) and are then
// refused as a store failure (503), never as unknown.
//
// Redirects are followed only to the host and port of the trusted URL,
// and never to plain http (see InsecureJWKSAllowRedirectsToAnyHost).
//
// Keys are taken from the set as ParseJWKS does: a JWK's "use" other than
// "sig" excludes it; its "alg", when present, pins the algorithm. Keys
// are found by their fingerprint; a JWK's own "kid" is not used. Users
// that trust one URL share its cache, and each of them is authenticated
// by every key of that set.
//
// Lookups of a set already fetched take no lock and do not allocate.
// Close stops every goroutine; a closed trust refuses every lookup.
type JWKSTrust struct {
	cfg       jwksTrustConfig
	client    *http.Client
	ownClient bool
	ctx       context.Context
	cancel    context.CancelFunc
	state     atomic.Pointer[jwksState]
	wg        sync.WaitGroup

	mu     sync.Mutex // guards sets, closed and state changes
	sets   map[string]*jwksSet
	closed bool
}

// jwksState is what lookups read; replaced, never modified.
type jwksState struct {
	users  map[string]*jwksSet
	closed bool
}

// jwksKeys is one fetched set; replaced, never modified.
type jwksKeys struct {
	all   []crypto.PublicKey
	byKID map[string][]crypto.PublicKey
}

// jwksSet is the cache of one URL, kept fresh by its run goroutine.
type jwksSet struct {
	url    string
	shown  string // url without its password, for logs, errors and Status
	trust  *JWKSTrust
	keys   atomic.Pointer[jwksKeys] // the last good set; nil before the first success
	kick   chan struct{}            // a waiter asks for a fetch now
	cancel context.CancelFunc
	done   chan struct{} // closed when run returned
	refs   int           // users trusting this URL; guarded by trust.mu
	etag   string        // owned by run
	// fresh goes stale the max staleness after the last successful
	// fetch; stale before the first.
	fresh freshness

	mu          sync.Mutex
	inflight    chan struct{} // closed when the running fetch ends
	next        chan struct{} // closed when the next fetch ends; its waiters asked for it
	stopped     bool
	lastAttempt time.Time
	fetched     time.Time
	nextDue     time.Time
	lastErr     error
}

// NewJWKSTrust returns an empty JWKSTrust; add clients with Trust.
func NewJWKSTrust(opts ...JWKSTrustOption) *JWKSTrust {
	cfg := jwksTrustConfig{
		floor:       DefaultJWKSRefreshFloor,
		ceiling:     DefaultJWKSRefreshCeiling,
		minInterval: DefaultJWKSMinRefreshInterval,
		maxSize:     DefaultJWKSMaxResponseSize,
		timeout:     DefaultJWKSFetchTimeout,
		maxStale:    DefaultJWKSMaxStaleness,
	}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.ceiling = max(cfg.ceiling, cfg.floor)
	cfg.maxStale = max(cfg.maxStale, max(cfg.ceiling, cfg.minInterval)+cfg.timeout)
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	t := &JWKSTrust{cfg: cfg, sets: make(map[string]*jwksSet)}
	var client http.Client
	if cfg.client != nil {
		client = *cfg.client
	} else {
		client.Transport = http.DefaultTransport.(*http.Transport).Clone()
		t.ownClient = true
	}
	next := client.CheckRedirect
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := t.checkURL(req.URL); err != nil {
			return err
		}
		if from := via[0].URL; !t.cfg.anyHost && !sameHost(req.URL, from) {
			return fmt.Errorf("asymjwt: JWKS URL %s: redirect to another host (%s) refused", from.Redacted(), req.URL.Host)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	t.client = &client
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.state.Store(&jwksState{users: map[string]*jwksSet{}})
	return t
}

func (t *JWKSTrust) checkURL(u *url.URL) error {
	switch {
	case u.Scheme == "https", u.Scheme == "http" && t.cfg.allowHTTP:
	case u.Scheme == "http":
		return fmt.Errorf("asymjwt: JWKS URL %s: plain http lets anyone on the path add keys (use https)", u.Redacted())
	default:
		return fmt.Errorf("asymjwt: JWKS URL %s: scheme must be https", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("asymjwt: JWKS URL %s: no host", u.Redacted())
	}
	return nil
}

// sameHost reports whether a and b name the same host and port.
func sameHost(a, b *url.URL) bool {
	return strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// port is u's port, the scheme's default when u has none.
func port(u *url.URL) string {
	switch p := u.Port(); {
	case p != "":
		return p
	case u.Scheme == "http":
		return "80"
	}
	return "443"
}

// Trust makes username's keys those published at jwksURL (https),
// replacing any URL trusted for username before. It returns at once; the
// first fetch runs in the background.
func (t *JWKSTrust) Trust(username, jwksURL string) error {
	if username == "" || len(username) > maxUsernameLength {
		return fmt.Errorf("asymjwt: username must be 1-%d bytes", maxUsernameLength)
	}
	u, err := url.Parse(jwksURL)
	if err != nil {
		return fmt.Errorf("asymjwt: JWKS URL: %w", err)
	}
	if err := t.checkURL(u); err != nil {
		return err
	}
	key := u.String()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return errStoreClosed
	}
	users := t.state.Load().users
	old := users[username]
	if old != nil && old.url == key {
		t.mu.Unlock()
		return nil
	}
	s := t.sets[key]
	if s == nil {
		s = t.startSet(key, u.Redacted())
	}
	s.refs++
	users = maps.Clone(users)
	users[username] = s
	t.state.Store(&jwksState{users: users})
	stopped := t.release(old)
	t.mu.Unlock()
	if stopped != nil {
		<-stopped.done
	}
	return nil
}

// Untrust forgets username; it reports whether username was trusted.
func (t *JWKSTrust) Untrust(username string) bool {
	t.mu.Lock()
	users := t.state.Load().users
	s := users[username]
	if s == nil {
		t.mu.Unlock()
		return false
	}
	users = maps.Clone(users)
	delete(users, username)
	t.state.Store(&jwksState{users: users})
	stopped := t.release(s)
	t.mu.Unlock()
	if stopped != nil {
		<-stopped.done
	}
	return true
}

// startSet creates the cache of url and starts its goroutine; t.mu held.
func (t *JWKSTrust) startSet(url, shown string) *jwksSet {
	ctx, cancel := context.WithCancel(t.ctx)
	s := &jwksSet{
		url:    url,
		shown:  shown,
		trust:  t,
		kick:   make(chan struct{}, 1),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	t.sets[url] = s
	t.wg.Add(1)
	go s.run(ctx)
	return s
}

// release drops one user of s; when it was the last, s is stopped and
// returned so the caller can wait for it outside t.mu.
func (t *JWKSTrust) release(s *jwksSet) *jwksSet {
	if s == nil {
		return nil
	}
	if s.refs--; s.refs > 0 {
		return nil
	}
	delete(t.sets, s.url)
	s.cancel()
	return s
}

// Close stops all fetching and waits for it. Lookups are refused from
// then on. It is safe to call more than once.
func (t *JWKSTrust) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.state.Store(&jwksState{closed: true})
	t.cancel()
	t.mu.Unlock()
	t.wg.Wait()
	if t.ownClient {
		t.client.CloseIdleConnections()
	}
	return nil
}

// Keys implements KeyStore.
func (t *JWKSTrust) Keys(ctx context.Context, username, kid string) ([]crypto.PublicKey, error) {
	st := t.state.Load()
	if st.closed {
		return nil, errStoreClosed
	}
	s := st.users[username]
	if s == nil {
		return nil, ErrUnknownUser
	}
	ks := s.keys.Load()
	if ks == nil || s.stale() {
		s.await(ctx)
		if ks = s.keys.Load(); ks == nil || s.stale() {
			return nil, s.unavailable(ctx)
		}
	}
	if kid == "" {
		if len(ks.all) == 0 {
			return nil, fmt.Errorf("%w: the JWKS of %s has no signing keys", ErrUnknownKey, s.shown)
		}
		return ks.all, nil
	}
	if one := ks.byKID[kid]; one != nil {
		return one, nil
	}
	// Perhaps the client published a new key since the last fetch.
	if s.await(ctx) {
		if one := s.keys.Load().byKID[kid]; one != nil {
			return one, nil
		}
	}
	return nil, ErrUnknownKey
}

// JWKSStatus describes the cache of one trusted URL.
type JWKSStatus struct {
	// URL is the trusted JWKS URL, its password (if any) masked.
	URL string
	// Keys counts the signing keys of the set in use.
	Keys int
	// Fetched is when the set in use was fetched or revalidated; zero
	// until the first success.
	Fetched time.Time
	// LastAttempt is when the last fetch started.
	LastAttempt time.Time
	// NextRefresh is when the set will be fetched again.
	NextRefresh time.Time
	// Expires is when the set in use goes stale and its users are
	// refused, unless a fetch succeeds first: Fetched plus the max
	// staleness; zero until the first success.
	Expires time.Time
	// Err is why the last fetch failed; nil when it succeeded.
	Err error
}

// Status describes the cache behind username, for health checks and
// tooling; false when username is not trusted.
func (t *JWKSTrust) Status(username string) (JWKSStatus, bool) {
	s := t.state.Load().users[username]
	if s == nil {
		return JWKSStatus{}, false
	}
	st := JWKSStatus{URL: s.shown}
	if ks := s.keys.Load(); ks != nil {
		st.Keys = len(ks.all)
	}
	s.mu.Lock()
	st.Fetched, st.LastAttempt, st.NextRefresh, st.Err = s.fetched, s.lastAttempt, s.nextDue, s.lastErr
	s.mu.Unlock()
	if !st.Fetched.IsZero() {
		st.Expires = st.Fetched.Add(t.cfg.maxStale)
	}
	return st, true
}

// await waits for a fetch of the set: the one running, the one already
// asked for, or a new one if the min interval has passed since the last.
// It reports whether a fetch ended while it waited.
func (s *jwksSet) await(ctx context.Context) bool {
	s.mu.Lock()
	ch := s.inflight
	if ch == nil {
		ch = s.next
	}
	if ch == nil {
		if s.stopped || !s.lastAttempt.IsZero() && time.Since(s.lastAttempt) < s.trust.cfg.minInterval {
			s.mu.Unlock()
			return false
		}
		ch = make(chan struct{})
		s.next = ch
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// stale reports whether the set in use is past the max staleness (or
// there is none).
func (s *jwksSet) stale() bool { return s.fresh.stale() }

// unavailable is the error for a set never fetched or gone stale: a store
// failure, which the verifier refuses with 503, not an unknown user.
func (s *jwksSet) unavailable(ctx context.Context) error {
	s.mu.Lock()
	err, fetched := s.lastErr, s.fetched
	s.mu.Unlock()
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = errors.New("no fetch completed yet")
	}
	if !fetched.IsZero() {
		return fmt.Errorf("asymjwt: JWKS %s: no fetch succeeded since %s, over the max staleness of %v: %w",
			s.shown, fetched.Format(time.RFC3339), s.trust.cfg.maxStale, err)
	}
	return fmt.Errorf("asymjwt: JWKS %s: no keys: %w", s.shown, err)
}

func (s *jwksSet) run(ctx context.Context) {
	defer s.trust.wg.Done()
	defer close(s.done)
	defer s.fresh.stop()
	defer func() {
		s.mu.Lock()
		s.stopped = true
		if s.next != nil {
			close(s.next) // release waiters: nothing will fetch for them
			s.next = nil
		}
		s.mu.Unlock()
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.kick:
			s.mu.Lock()
			asked := s.next != nil
			s.mu.Unlock()
			if !asked {
				continue // that waiter was served by a fetch that ran since
			}
		}
		timer.Reset(s.fetch(ctx))
	}
}

// fetch runs one fetch and returns the time until the next one.
func (s *jwksSet) fetch(ctx context.Context) time.Duration {
	cfg := &s.trust.cfg
	s.mu.Lock()
	done := s.next
	if done == nil {
		done = make(chan struct{})
	}
	s.next, s.inflight = nil, done
	s.lastAttempt = time.Now()
	s.mu.Unlock()

	keys, ttl, err := s.download(ctx)
	now := time.Now()
	delay := max(ttl, cfg.minInterval)
	if err != nil {
		delay = cfg.minInterval
	}
	s.mu.Lock()
	s.inflight = nil
	s.lastErr = err
	s.nextDue = now.Add(delay)
	if err == nil {
		s.fetched = now
		s.fresh.renew(cfg.maxStale)
		if keys != nil {
			s.keys.Store(keys)
		}
	}
	s.mu.Unlock()
	close(done)

	if cfg.onReload != nil && (err == nil || ctx.Err() == nil) {
		cfg.onReload(err)
	}
	l := cfg.logger
	switch {
	case err != nil && ctx.Err() != nil:
		// Stopped by Close or Untrust: not a failure of the endpoint.
	case err != nil:
		l.LogAttrs(ctx, slog.LevelWarn, "asymjwt: JWKS fetch failed; the last good set stays in use",
			slog.String("url", s.shown), slog.String("error", err.Error()), slog.Duration("retry_in", delay))
	case l.Enabled(ctx, slog.LevelDebug):
		n := -1 // not modified
		if keys != nil {
			n = len(keys.all)
		}
		l.LogAttrs(ctx, slog.LevelDebug, "asymjwt: JWKS fetched",
			slog.String("url", s.shown), slog.Int("keys", n), slog.Duration("next_in", delay))
	}
	return delay
}

// download fetches the set once. keys is nil when the server answered
// 304 Not Modified; ttl is how long the answer may be used.
func (s *jwksSet) download(ctx context.Context) (keys *jwksKeys, ttl time.Duration, err error) {
	cfg := &s.trust.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	if s.etag != "" {
		req.Header.Set("If-None-Match", s.etag)
	}
	resp, err := s.trust.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && s.etag != "":
		return nil, cfg.ttl(resp.Header), nil
	case resp.StatusCode != http.StatusOK:
		return nil, 0, fmt.Errorf("HTTP status %d", resp.StatusCode)
	case resp.ContentLength > cfg.maxSize:
		return nil, 0, fmt.Errorf("response of %d bytes is over the %d-byte limit", resp.ContentLength, cfg.maxSize)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, cfg.maxSize+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(body)) > cfg.maxSize {
		return nil, 0, fmt.Errorf("response is over the %d-byte limit", cfg.maxSize)
	}
	pubs, err := ParseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	keys = &jwksKeys{all: pubs, byKID: make(map[string][]crypto.PublicKey, len(pubs))}
	for i, pub := range pubs {
		kid, err := Fingerprint(pub)
		if err != nil {
			return nil, 0, err
		}
		if _, dup := keys.byKID[kid]; !dup {
			keys.byKID[kid] = pubs[i : i+1 : i+1]
		}
	}
	s.etag = resp.Header.Get("ETag")
	return keys, cfg.ttl(resp.Header), nil
}

// ttl is how long a response may be used: its max-age less its Age,
// within the refresh bounds.
func (cfg *jwksTrustConfig) ttl(h http.Header) time.Duration {
	d := DefaultJWKSRefresh
	if secs, ok := maxAge(h.Values("Cache-Control")); ok {
		if age, err := strconv.ParseInt(strings.TrimSpace(h.Get("Age")), 10, 64); err == nil && age > 0 {
			secs -= age
		}
		d = time.Duration(min(max(secs, 0), int64(cfg.ceiling/time.Second)+1)) * time.Second
	}
	return min(max(d, cfg.floor), cfg.ceiling)
}

// maxAge reads max-age from Cache-Control values, in seconds; no-cache
// and no-store mean 0 and win over any max-age.
func maxAge(values []string) (int64, bool) {
	var (
		secs  int64
		found bool
	)
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-cache", "no-store":
				return 0, true
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(arg, `"`), 10, 64)
				switch {
				case err == nil && n >= 0:
					secs, found = n, true
				case errors.Is(err, strconv.ErrRange):
					secs, found = 1<<62, true
				}
			}
		}
	}
	return secs, found
}

// ParseJWKS reads the signing keys of a JWK Set ({"keys": [...]}). A key
// whose "use" is present and not "sig", whose "key_ops" lacks "verify",
// or that is not a supported public key (kty oct, weak RSA, an "alg" that
// does not fit it, ...) is left out, not an error: sets often carry
// encryption keys too. A key with an "alg" comes back as a *PinnedKey
// limited to that algorithm. Only a document that is not a JWK Set at all
// is an error.
func ParseJWKS(data []byte) ([]crypto.PublicKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: bad JWKS JSON: %v", ErrInvalidKey, err)
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf(`%w: JWKS has no "keys" array`, ErrInvalidKey)
	}
	pubs := make([]crypto.PublicKey, 0, len(doc.Keys))
	for _, raw := range doc.Keys {
		var j struct {
			JWK
			KeyOps []string `json:"key_ops"`
		}
		if json.Unmarshal(raw, &j) != nil ||
			j.Use != "" && j.Use != "sig" ||
			j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify") {
			continue
		}
		pub, err := j.JWK.PublicKey()
		if err != nil {
			continue
		}
		if j.Alg != "" {
			if pub, err = NewPinnedKey(pub, j.Alg); err != nil {
				continue
			}
		}
		pubs = append(pubs, pub)
	}
	return pubs, nil
}
