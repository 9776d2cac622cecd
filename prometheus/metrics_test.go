package asymjwtprom_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtprom "github.com/asymjwt/asymjwt/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// scrape gathers reg into "name{label="value",...}" -> value; a
// histogram gives its sample count under name_count.
func scrape(t testing.TB, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[f.GetName()+key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[f.GetName()+key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[f.GetName()+"_count"+key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// want checks the listed series; others may exist.
func want(t testing.TB, got map[string]float64, series map[string]float64) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(series)) {
		if v, ok := got[k]; !ok || v != series[k] {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, series[k])
		}
	}
}

type party struct {
	name   string
	signer *asymjwt.Signer
}

func newParty(t testing.TB, keys *asymjwt.MemoryKeyStore, name string, opts ...asymjwt.SignerOption) party {
	t.Helper()
	key, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		t.Fatal(err)
	}
	s, err := asymjwt.NewSigner(name, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if keys != nil {
		if _, err := keys.Add(name, key.Public()); err != nil {
			t.Fatal(err)
		}
	}
	return party{name, s}
}

func (p party) token(t testing.TB) string {
	t.Helper()
	tok, err := p.signer.Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// failingStore is a replay store that is down.
type failingStore struct{}

func (failingStore) Claim(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("connection refused")
}

func TestObserveCountsTraffic(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := asymjwtprom.New(asymjwtprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	keys := asymjwt.NewMemoryKeyStore()
	alice, bob := newParty(t, keys, "alice"), newParty(t, keys, "bob")
	carol := newParty(t, nil, "carol") // no key registered
	stale := newParty(t, keys, "dave", asymjwt.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
	quiet := asymjwt.WithLogger(discard)
	v, err := asymjwt.NewVerifier(keys, quiet, asymjwt.WithObserver(m.Observe),
		asymjwt.WithReplayStore(m.InstrumentReplayStore("memory", asymjwt.NewMemoryReplayStore())))
	if err != nil {
		t.Fatal(err)
	}
	down, err := asymjwt.NewVerifier(keys, quiet, asymjwt.WithObserver(m.Observe),
		asymjwt.WithReplayStore(m.InstrumentReplayStore("redis", failingStore{})))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	verify := func(v *asymjwt.Verifier, tok string, wantErr error) {
		t.Helper()
		if _, err := v.Verify(ctx, tok); !errors.Is(err, wantErr) {
			t.Fatalf("Verify: %v, want %v", err, wantErr)
		}
	}
	replayed := alice.token(t)
	verify(v, replayed, nil)
	verify(v, replayed, asymjwt.ErrReplay)
	verify(v, alice.token(t), nil)
	verify(v, bob.token(t), nil)
	verify(v, carol.token(t), asymjwt.ErrUnknownUser)
	verify(v, stale.token(t), asymjwt.ErrStale)
	verify(v, "not.a.token", asymjwt.ErrMalformed)
	tampered := bob.token(t)
	verify(v, tampered[:len(tampered)-4]+"AAAA", asymjwt.ErrSignature)
	verify(down, bob.token(t), asymjwt.ErrStoreUnavailable)
	if _, err := v.Authenticate(ctx, nil, nil); !errors.Is(err, asymjwt.ErrNoCredentials) {
		t.Fatal(err)
	}

	got := scrape(t, reg)
	want(t, got, map[string]float64{
		`asymjwt_requests_total{outcome="accepted"}`:                     3,
		`asymjwt_requests_total{outcome="replay"}`:                       1,
		`asymjwt_requests_total{outcome="unknown_user"}`:                 1,
		`asymjwt_requests_total{outcome="stale"}`:                        1,
		`asymjwt_requests_total{outcome="malformed"}`:                    1,
		`asymjwt_requests_total{outcome="signature"}`:                    1,
		`asymjwt_requests_total{outcome="store_unavailable"}`:            1,
		`asymjwt_requests_total{outcome="no_credentials"}`:               1,
		`asymjwt_requests_total{outcome="other"}`:                        0,
		`asymjwt_user_requests_total{username="alice"}`:                  2,
		`asymjwt_user_requests_total{username="bob"}`:                    1,
		`asymjwt_verification_duration_seconds_count{result="accepted"}`: 3,
		`asymjwt_verification_duration_seconds_count{result="refused"}`:  7,
		`asymjwt_replay_store_duration_seconds_count{store="memory"}`:    4, // 3 fresh, 1 replay
		`asymjwt_replay_store_errors_total{store="memory"}`:              0,
		`asymjwt_replay_store_duration_seconds_count{store="redis"}`:     1,
		`asymjwt_replay_store_errors_total{store="redis"}`:               1,
	})
	// Refused tokens claimed usernames: none of them is a label value.
	for k := range got {
		if strings.Contains(k, "carol") || strings.Contains(k, "dave") {
			t.Errorf("a claimed, unverified username became a label: %s", k)
		}
	}
}

func TestReason(t *testing.T) {
	sentinels := map[error]string{
		asymjwt.ErrNoCredentials:       "no_credentials",
		asymjwt.ErrMultipleCredentials: "multiple_credentials",
		asymjwt.ErrScheme:              "scheme",
		asymjwt.ErrTokenTooLarge:       "token_too_large",
		asymjwt.ErrMalformed:           "malformed",
		asymjwt.ErrUnknownUser:         "unknown_user",
		asymjwt.ErrUnknownKey:          "unknown_key",
		asymjwt.ErrAlgorithm:           "algorithm",
		asymjwt.ErrSignature:           "signature",
		asymjwt.ErrStale:               "stale",
		asymjwt.ErrReplay:              "replay",
		asymjwt.ErrAudience:            "audience",
		asymjwt.ErrRequestMismatch:     "request_mismatch",
		asymjwt.ErrBodyTooLarge:        "body_too_large",
		asymjwt.ErrStoreUnavailable:    "store_unavailable",
		asymjwt.ErrReplayStoreFull:     "replay_store_full",
	}
	for err, label := range sentinels {
		if got := asymjwtprom.Reason(fmt.Errorf("detail: %w", err)); got != label {
			t.Errorf("Reason(%v) = %q, want %q", err, got, label)
		}
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "accepted"},
		{errors.New("something else"), "other"},
		// As the verifier wraps them: the more specific reason wins.
		{fmt.Errorf("%w: reading body: %w", asymjwt.ErrRequestMismatch, asymjwt.ErrBodyTooLarge), "body_too_large"},
		{fmt.Errorf("%w: replay store: %w", asymjwt.ErrStoreUnavailable, asymjwt.ErrReplayStoreFull), "replay_store_full"},
	} {
		if got := asymjwtprom.Reason(c.err); got != c.want {
			t.Errorf("Reason(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	reasons := asymjwtprom.Reasons()
	if len(reasons) != len(sentinels)+2 || reasons[0] != "accepted" || reasons[len(reasons)-1] != "other" {
		t.Errorf("Reasons() = %v", reasons)
	}
	sorted := slices.Clone(reasons)
	sort.Strings(sorted)
	if len(slices.Compact(sorted)) != len(reasons) {
		t.Errorf("Reasons() has duplicates: %v", reasons)
	}
}

func TestOptions(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := asymjwtprom.New(asymjwtprom.WithRegisterer(reg), asymjwtprom.WithNamespace("edge"),
		asymjwtprom.WithConstLabels(prometheus.Labels{"service": "orders"}),
		asymjwtprom.WithBuckets([]float64{0.001, 1}), asymjwtprom.WithoutUsernameLabel(),
		asymjwtprom.WithVersion("v9.9.9"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Namespace() != "edge" {
		t.Errorf("Namespace() = %q", m.Namespace())
	}
	keys := asymjwt.NewMemoryKeyStore()
	alice := newParty(t, keys, "alice")
	v, err := asymjwt.NewVerifier(keys, asymjwt.WithLogger(discard), asymjwt.WithObserver(m.Observe),
		asymjwt.WithReplayStore(asymjwt.NewMemoryReplayStore()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), alice.token(t)); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, reg)
	want(t, got, map[string]float64{
		`edge_requests_total{outcome="accepted",service="orders"}`: 1,
		fmt.Sprintf(`edge_build_info{core_version=%q,go_version=%q,service="orders",version="v9.9.9"}`,
			coreVersion(t, got), runtime.Version()): 1,
	})
	for k := range got {
		if strings.Contains(k, "username") || strings.HasPrefix(k, "asymjwt_") {
			t.Errorf("unexpected series %s", k)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "edge_verification_duration_seconds" {
			continue
		}
		var bounds []float64
		for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
			bounds = append(bounds, b.GetUpperBound())
		}
		if !slices.Equal(bounds, []float64{0.001, 1}) {
			t.Errorf("buckets %v, want [0.001 1]", bounds)
		}
	}
	if _, err := asymjwtprom.New(asymjwtprom.WithRegisterer(reg), asymjwtprom.WithNamespace("edge"),
		asymjwtprom.WithConstLabels(prometheus.Labels{"service": "orders"})); err == nil {
		t.Error("a second New on the same registry and namespace: no error")
	}
}

// coreVersion is the core_version label of the build info in got.
func coreVersion(t testing.TB, got map[string]float64) string {
	for k := range got {
		if _, rest, ok := strings.Cut(k, `build_info{core_version="`); ok {
			v, _, _ := strings.Cut(rest, `"`)
			return v
		}
	}
	t.Fatal("no build_info")
	return ""
}

func TestKeySourceReloaded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := asymjwtprom.New(asymjwtprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	before := float64(time.Now().Unix())
	keys, err := asymjwt.OpenAuthorizedKeysDir(dir, asymjwt.WithAuthorizedKeysPollInterval(0),
		asymjwt.WithAuthorizedKeysLogger(discard),
		asymjwt.WithAuthorizedKeysReloadHandler(m.KeySourceReloaded("directory")))
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	jwks := m.KeySourceReloaded("jwks")
	got := scrape(t, reg)
	want(t, got, map[string]float64{
		`asymjwt_key_source_reloads_total{source="directory"}`:             1,
		`asymjwt_key_source_reload_failures_total{source="directory"}`:     0,
		`asymjwt_key_source_reloads_total{source="jwks"}`:                  0,
		`asymjwt_key_source_last_success_timestamp_seconds{source="jwks"}`: 0,
	})
	if ts := got[`asymjwt_key_source_last_success_timestamp_seconds{source="directory"}`]; ts < before {
		t.Errorf("last success %v, before the load (%v)", ts, before)
	}
	jwks(errors.New("asymjwt: JWKS https://a.example/jwks: HTTP status 500"))
	jwks(nil)
	jwks(errors.New("asymjwt: JWKS https://a.example/jwks: HTTP status 500"))
	if err := os.WriteFile(filepath.Join(dir, "mallory"), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := keys.Reload(); err == nil {
		t.Fatal("Reload of a bad file: no error")
	}
	got = scrape(t, reg)
	want(t, got, map[string]float64{
		`asymjwt_key_source_reloads_total{source="directory"}`:         2,
		`asymjwt_key_source_reload_failures_total{source="directory"}`: 1,
		`asymjwt_key_source_reloads_total{source="jwks"}`:              3,
		`asymjwt_key_source_reload_failures_total{source="jwks"}`:      2,
	})
	if ts := got[`asymjwt_key_source_last_success_timestamp_seconds{source="jwks"}`]; ts < before {
		t.Errorf("jwks last success %v, want the time of the good load", ts)
	}
}
