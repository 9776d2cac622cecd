package asymjwtprom

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultNamespace prefixes every metric name unless WithNamespace says
// otherwise.
const DefaultNamespace = "asymjwt"

// DefaultBuckets are the latency histograms' upper bounds, in seconds:
// 50 µs to 1 s. An Ed25519 check takes about 40 µs, a Redis claim on
// loopback about 100 µs.
var DefaultBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// Outcome label values of the requests counter besides the reasons of
// Reasons.
const (
	// OutcomeAccepted counts verified requests.
	OutcomeAccepted = "accepted"
	// OutcomeOther counts refusals whose error matches none of the
	// sentinels of Reasons.
	OutcomeOther = "other"
)

// reasons maps core's sentinel errors to outcome label values, the more
// specific first: ErrReplayStoreFull wraps ErrStoreUnavailable, and a
// body too large to hash is also a request mismatch.
var reasons = []struct {
	err   error
	label string
}{
	{asymjwt.ErrReplayStoreFull, "replay_store_full"},
	{asymjwt.ErrStoreUnavailable, "store_unavailable"},
	{asymjwt.ErrNoCredentials, "no_credentials"},
	{asymjwt.ErrMultipleCredentials, "multiple_credentials"},
	{asymjwt.ErrScheme, "scheme"},
	{asymjwt.ErrTokenTooLarge, "token_too_large"},
	{asymjwt.ErrMalformed, "malformed"},
	{asymjwt.ErrUnknownUser, "unknown_user"},
	{asymjwt.ErrUnknownKey, "unknown_key"},
	{asymjwt.ErrAlgorithm, "algorithm"},
	{asymjwt.ErrSignature, "signature"},
	{asymjwt.ErrStale, "stale"},
	{asymjwt.ErrReplay, "replay"},
	{asymjwt.ErrAudience, "audience"},
	{asymjwt.ErrBodyTooLarge, "body_too_large"},
	{asymjwt.ErrRequestMismatch, "request_mismatch"},
}

// Reason returns the outcome label value of a verification error:
// OutcomeAccepted for nil, the label of the first sentinel of core that
// err matches (errors.Is), else OutcomeOther. The set is fixed: the
// label never carries text from the request.
func Reason(err error) string {
	if err == nil {
		return OutcomeAccepted
	}
	if i := reasonIndex(err); i >= 0 {
		return reasons[i].label
	}
	return OutcomeOther
}

// reasonIndex is the index in reasons of err's reason, -1 for none.
func reasonIndex(err error) int {
	// Most refusals are a sentinel itself: compare before unwrapping.
	for i, r := range reasons {
		if err == r.err {
			return i
		}
	}
	for i, r := range reasons {
		if errors.Is(err, r.err) {
			return i
		}
	}
	return -1
}

// Reasons returns every outcome label value Reason can return,
// OutcomeAccepted first and OutcomeOther last.
func Reasons() []string {
	out := []string{OutcomeAccepted}
	for _, r := range reasons {
		out = append(out, r.label)
	}
	return append(out, OutcomeOther)
}

// Option configures New.
type Option func(*config)

type config struct {
	reg         prometheus.Registerer
	namespace   string
	constLabels prometheus.Labels
	buckets     []float64
	usernames   bool
	version     string
}

// WithRegisterer sets where the collectors are registered (default
// prometheus.DefaultRegisterer).
func WithRegisterer(r prometheus.Registerer) Option {
	return func(c *config) { c.reg = r }
}

// WithNamespace sets the prefix of every metric name (default "asymjwt";
// "" for none).
func WithNamespace(ns string) Option {
	return func(c *config) { c.namespace = ns }
}

// WithConstLabels adds labels with fixed values to every metric (a
// service or instance name, say).
func WithConstLabels(l prometheus.Labels) Option {
	return func(c *config) { c.constLabels = l }
}

// WithBuckets sets the upper bounds, in seconds, of the latency
// histograms (default DefaultBuckets).
func WithBuckets(b []float64) Option {
	return func(c *config) { c.buckets = append([]float64(nil), b...) }
}

// WithoutUsernameLabel drops the per-user counter of accepted requests:
// one series per client key owner is too many for a large fleet.
func WithoutUsernameLabel() Option {
	return func(c *config) { c.usernames = false }
}

// WithVersion sets the version label of the build info metric (default:
// the main module's version from runtime/debug.ReadBuildInfo, "(devel)"
// for a build from a work tree).
func WithVersion(v string) Option {
	return func(c *config) { c.version = v }
}

// Metrics turns what the verifier, the replay store and the key sources
// report into Prometheus metrics. Create one with New per registry and
// share it among verifiers; it is safe for concurrent use.
//
// With the default namespace the metrics are:
//
//	asymjwt_requests_total{outcome}                     verifications: "accepted", or a refusal reason (Reasons)
//	asymjwt_user_requests_total{username}               accepted verifications by authenticated username
//	asymjwt_verification_duration_seconds{result}       verification latency, result "accepted" or "refused"
//	asymjwt_replay_store_duration_seconds{store}        replay store claim latency
//	asymjwt_replay_store_errors_total{store}            replay store claims that failed (the request was refused)
//	asymjwt_key_source_reloads_total{source}            key source loads (polls and fetches included)
//	asymjwt_key_source_reload_failures_total{source}    loads that reported a problem
//	asymjwt_key_source_last_success_timestamp_seconds{source}  Unix time of the last load without problem
//	asymjwt_build_info{version,core_version,go_version} always 1
type Metrics struct {
	cfg            config
	refused        []prometheus.Counter // by index in reasons
	other          prometheus.Counter
	accepted       prometheus.Counter
	users          *prometheus.CounterVec // nil WithoutUsernameLabel
	userCounters   sync.Map               // username -> prometheus.Counter of users
	acceptedTime   prometheus.Observer
	refusedTime    prometheus.Observer
	replayDuration *prometheus.HistogramVec
	replayErrors   *prometheus.CounterVec
	reloads        *prometheus.CounterVec
	reloadFailures *prometheus.CounterVec
	lastReload     *prometheus.GaugeVec
}

// New creates the collectors and registers them. It fails when one of
// them is already registered (a second New on the same registry and
// namespace).
func New(opts ...Option) (*Metrics, error) {
	cfg := config{reg: prometheus.DefaultRegisterer, namespace: DefaultNamespace, buckets: DefaultBuckets, usernames: true}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.version == "" {
		cfg.version = mainVersion()
	}
	m := &Metrics{cfg: cfg}
	requests := prometheus.NewCounterVec(m.counterOpts("requests_total",
		`Verifications by outcome: "accepted", or the reason of the refusal.`), []string{"outcome"})
	m.accepted = requests.WithLabelValues(OutcomeAccepted)
	for _, r := range reasons {
		m.refused = append(m.refused, requests.WithLabelValues(r.label))
	}
	m.other = requests.WithLabelValues(OutcomeOther)
	duration := prometheus.NewHistogramVec(m.histogramOpts("verification_duration_seconds",
		`Verification latency in seconds, by result: "accepted" or "refused".`), []string{"result"})
	m.acceptedTime, m.refusedTime = duration.WithLabelValues("accepted"), duration.WithLabelValues("refused")
	m.replayDuration = prometheus.NewHistogramVec(m.histogramOpts("replay_store_duration_seconds",
		"Replay store claim latency in seconds, by store."), []string{"store"})
	m.replayErrors = prometheus.NewCounterVec(m.counterOpts("replay_store_errors_total",
		"Replay store claims that failed, by store; each refused its request (fail closed)."), []string{"store"})
	m.reloads = prometheus.NewCounterVec(m.counterOpts("key_source_reloads_total",
		"Key source loads (directory polls and JWKS fetches included), by source."), []string{"source"})
	m.reloadFailures = prometheus.NewCounterVec(m.counterOpts("key_source_reload_failures_total",
		"Key source loads that reported a problem, by source; the last good keys stay in use."), []string{"source"})
	m.lastReload = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: cfg.namespace, Name: "key_source_last_success_timestamp_seconds", ConstLabels: cfg.constLabels,
		Help: "Unix time of the last key source load without problem, by source.",
	}, []string{"source"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: cfg.namespace, Name: "build_info", ConstLabels: cfg.constLabels,
		Help: "Always 1; the labels say which program, asymjwt core and Go run.",
	}, []string{"version", "core_version", "go_version"})
	build.WithLabelValues(cfg.version, coreVersion(), runtime.Version()).Set(1)
	cs := []prometheus.Collector{requests, duration, m.replayDuration, m.replayErrors, m.reloads, m.reloadFailures, m.lastReload, build}
	if cfg.usernames {
		m.users = prometheus.NewCounterVec(m.counterOpts("user_requests_total",
			"Accepted verifications by authenticated username."), []string{"username"})
		cs = append(cs, m.users)
	}
	for _, c := range cs {
		if err := cfg.reg.Register(c); err != nil {
			return nil, fmt.Errorf("asymjwtprom: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) counterOpts(name, help string) prometheus.CounterOpts {
	return prometheus.CounterOpts{Namespace: m.cfg.namespace, Name: name, Help: help, ConstLabels: m.cfg.constLabels}
}

func (m *Metrics) histogramOpts(name, help string) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{Namespace: m.cfg.namespace, Name: name, Help: help, ConstLabels: m.cfg.constLabels, Buckets: m.cfg.buckets}
}

// Namespace is the prefix of the metric names, for collectors a service
// adds beside these.
func (m *Metrics) Namespace() string { return m.cfg.namespace }

// Observe counts one verification outcome; pass it to
// asymjwt.WithObserver:
//
//	v, err := asymjwt.NewVerifier(keys, asymjwt.WithObserver(m.Observe))
//
// The username label comes only from o.Identity, the verified identity of
// an accepted request, never from what a refused token claimed.
func (m *Metrics) Observe(_ context.Context, o asymjwt.Outcome) {
	elapsed := o.Elapsed.Seconds()
	if o.Err == nil {
		m.accepted.Inc()
		m.acceptedTime.Observe(elapsed)
		if m.users != nil && o.Identity != nil {
			m.userCounter(o.Identity.Username).Inc()
		}
		return
	}
	if i := reasonIndex(o.Err); i >= 0 {
		m.refused[i].Inc()
	} else {
		m.other.Inc()
	}
	m.refusedTime.Observe(elapsed)
}

// userCounter is the accepted-requests counter of a verified username,
// cached: it costs a map lookup instead of hashing the label values. The
// cache holds one entry per user that authenticated, as the vector does.
func (m *Metrics) userCounter(username string) prometheus.Counter {
	if c, ok := m.userCounters.Load(username); ok {
		return c.(prometheus.Counter)
	}
	c, _ := m.userCounters.LoadOrStore(username, m.users.WithLabelValues(username))
	return c.(prometheus.Counter)
}

// KeySourceReloaded returns the function a key source calls after each
// load with its result, labelled source ("directory", "jwks",
// "database"...): pass it to asymjwt.WithAuthorizedKeysReloadHandler or
// asymjwt.WithJWKSReloadHandler. The source's series exist, at zero,
// from this call on.
func (m *Metrics) KeySourceReloaded(source string) func(error) {
	reloads := m.reloads.WithLabelValues(source)
	failures := m.reloadFailures.WithLabelValues(source)
	last := m.lastReload.WithLabelValues(source)
	return func(err error) {
		reloads.Inc()
		if err != nil {
			failures.Inc()
			return
		}
		last.SetToCurrentTime()
	}
}

// InstrumentReplayStore returns a ReplayStore that claims through s and
// records each claim's latency and failures, labelled store ("memory",
// "redis"...). Its Unwrap returns s.
//
// When s is an asymjwt.RetainingReplayStore (the memory and Redis stores
// are), so is the result, passing Retain to s unchanged: a verifier on
// the instrumented store keeps the fleet-wide replay lifetime of s and
// NewVerifier still refuses a store that would not keep entries long
// enough (asymjwt.ErrReplayRetention, docs/PROTOCOL.md §1.6).
func (m *Metrics) InstrumentReplayStore(store string, s asymjwt.ReplayStore) asymjwt.ReplayStore {
	is := &instrumentedStore{
		next:     s,
		duration: m.replayDuration.WithLabelValues(store),
		errors:   m.replayErrors.WithLabelValues(store),
	}
	if r, ok := s.(asymjwt.RetainingReplayStore); ok {
		return &instrumentedRetainingStore{instrumentedStore: is, retaining: r}
	}
	return is
}

type instrumentedStore struct {
	next     asymjwt.ReplayStore
	duration prometheus.Observer
	errors   prometheus.Counter
}

// Claim implements asymjwt.ReplayStore.
func (s *instrumentedStore) Claim(ctx context.Context, key string, expires time.Time) (bool, error) {
	start := time.Now()
	fresh, err := s.next.Claim(ctx, key, expires)
	s.observe(start, err)
	return fresh, err
}

// observe records one claim that started at start.
func (s *instrumentedStore) observe(start time.Time, err error) {
	s.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		s.errors.Inc()
	}
}

// Unwrap returns the instrumented store.
func (s *instrumentedStore) Unwrap() asymjwt.ReplayStore { return s.next }

// instrumentedRetainingStore is instrumentedStore on a RetainingReplayStore.
type instrumentedRetainingStore struct {
	*instrumentedStore
	retaining asymjwt.RetainingReplayStore
}

// Retain implements asymjwt.RetainingReplayStore: the wrapped store's.
func (s *instrumentedRetainingStore) Retain(lifetime time.Duration) error {
	return s.retaining.Retain(lifetime)
}

// ClaimIssued implements asymjwt.RetainingReplayStore.
func (s *instrumentedRetainingStore) ClaimIssued(ctx context.Context, key string, issued time.Time) (bool, error) {
	start := time.Now()
	fresh, err := s.retaining.ClaimIssued(ctx, key, issued)
	s.observe(start, err)
	return fresh, err
}

const corePath = "github.com/asymjwt/asymjwt/core"

func mainVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}

func coreVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if bi.Main.Path == corePath {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == corePath {
			return d.Version
		}
	}
	return "unknown"
}
