package asymjwt_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// ksJWKSServer is a client's JWKS endpoint on loopback whose answers the
// test changes as it goes, counting the fetches.
type ksJWKSServer struct {
	*httptest.Server
	fetches atomic.Int64

	mu          sync.Mutex
	status      int
	body        []byte
	header      map[string]string
	delay       time.Duration // block this long (or until the client gives up)
	chunked     bool          // stream the body without Content-Length
	ifNoneMatch []string      // what each request sent
}

func ksNewJWKSServer(t testing.TB, pubs ...crypto.PublicKey) *ksJWKSServer {
	t.Helper()
	s := &ksJWKSServer{status: http.StatusOK}
	s.setKeys(t, pubs...)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // aborted handshakes are the point of some tests
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *ksJWKSServer) serve(w http.ResponseWriter, r *http.Request) {
	s.fetches.Add(1)
	s.mu.Lock()
	status, body, delay, chunked := s.status, s.body, s.delay, s.chunked
	for k, v := range s.header {
		w.Header().Set(k, v)
	}
	s.ifNoneMatch = append(s.ifNoneMatch, r.Header.Get("If-None-Match"))
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if etag := w.Header().Get("ETag"); etag != "" && r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if !chunked {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	}
	w.WriteHeader(status)
	for len(body) > 0 {
		n := min(len(body), 64<<10)
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		body = body[n:]
		if chunked {
			w.(http.Flusher).Flush()
		}
	}
}

func (s *ksJWKSServer) setKeys(t testing.TB, pubs ...crypto.PublicKey) {
	t.Helper()
	set, err := asymjwt.NewJWKS(pubs...)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.set(http.StatusOK, body)
}

func (s *ksJWKSServer) set(status int, body []byte) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

func (s *ksJWKSServer) setSlow(delay time.Duration, chunked bool) {
	s.mu.Lock()
	s.delay, s.chunked = delay, chunked
	s.mu.Unlock()
}

func (s *ksJWKSServer) setHeader(name, value string) {
	s.mu.Lock()
	if s.header == nil {
		s.header = make(map[string]string)
	}
	s.header[name] = value
	s.mu.Unlock()
}

// ksTrust returns a quiet JWKSTrust that fetches from srv, closed at the
// end of the test.
func ksTrust(t *testing.T, srv *ksJWKSServer, opts ...asymjwt.JWKSTrustOption) *asymjwt.JWKSTrust {
	t.Helper()
	base := []asymjwt.JWKSTrustOption{asymjwt.WithJWKSLogger(ksQuiet)}
	if srv != nil {
		base = append(base, asymjwt.WithJWKSHTTPClient(srv.Client()))
	}
	tr := asymjwt.NewJWKSTrust(append(base, opts...)...)
	t.Cleanup(func() { tr.Close() })
	return tr
}

func ksMustTrust(t *testing.T, tr *asymjwt.JWKSTrust, username, url string) {
	t.Helper()
	if err := tr.Trust(username, url); err != nil {
		t.Fatal(err)
	}
}

// ksStatus is tr.Status(username) after the first fetch ended.
func ksStatus(t *testing.T, tr *asymjwt.JWKSTrust, username string) asymjwt.JWKSStatus {
	t.Helper()
	var st asymjwt.JWKSStatus
	ksEventually(t, 5*time.Second, "fetched", func() bool {
		var ok bool
		st, ok = tr.Status(username)
		return ok && !st.LastAttempt.IsZero() && !st.NextRefresh.IsZero()
	})
	return st
}

func TestJWKSTrustCaches(t *testing.T) {
	ksLeakCheck(t)
	alice := ksNewParty(t, "alice", nil)
	bob := ksNewParty(t, "bob", nil)
	srv := ksNewJWKSServer(t, alice.key.Public(), bob.key.Public())
	tr := ksTrust(t, srv)
	ksMustTrust(t, tr, "alice", srv.URL)
	ksMustTrust(t, tr, "bob", srv.URL+"/") // another URL: its own cache
	v := ksVerifier(t, tr)
	for range 10 {
		for _, p := range []ksParty{alice, bob} {
			if err := ksVerify(t, v, p); err != nil {
				t.Fatalf("%s: %v", p.username, err)
			}
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("20 verifications made %d fetches, want one per URL", n)
	}
	// A key in a trusted set does not make its holder any other user.
	if err := ksVerify(t, v, ksNewParty(t, "carol", alice.key)); !errors.Is(err, asymjwt.ErrUnknownUser) {
		t.Errorf("untrusted username: %v", err)
	}
	st, ok := tr.Status("alice")
	if !ok || st.URL != srv.URL || st.Keys != 2 || st.Err != nil || st.Fetched.IsZero() ||
		!st.Expires.Equal(st.Fetched.Add(asymjwt.DefaultJWKSMaxStaleness)) {
		t.Errorf("Status = %+v, %v", st, ok)
	}
	if _, ok := tr.Status("carol"); ok {
		t.Error("Status of an untrusted user")
	}
}

func TestJWKSTrustSharesOneCachePerURL(t *testing.T) {
	ksLeakCheck(t)
	alice := ksNewParty(t, "alice", nil)
	srv := ksNewJWKSServer(t, alice.key.Public())
	tr := ksTrust(t, srv)
	before := ksCoreGoroutines()
	ksMustTrust(t, tr, "alice", srv.URL)
	ksMustTrust(t, tr, "alice-too", srv.URL)
	ksMustTrust(t, tr, "alice", srv.URL) // again: no change
	v := ksVerifier(t, tr)
	for _, name := range []string{"alice", "alice-too"} {
		if err := ksVerify(t, v, ksNewParty(t, name, alice.key)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("%d fetches for one URL", n)
	}
	if !tr.Untrust("alice") || tr.Untrust("alice") {
		t.Error("Untrust does not report whether the user was trusted")
	}
	if err := ksVerify(t, v, alice); !errors.Is(err, asymjwt.ErrUnknownUser) {
		t.Errorf("after Untrust: %v", err)
	}
	if err := ksVerify(t, v, ksNewParty(t, "alice-too", alice.key)); err != nil {
		t.Errorf("the other user of the URL lost it: %v", err)
	}
	tr.Untrust("alice-too")
	ksNoNewGoroutines(t, before) // the URL's goroutine stopped with its last user
}

func TestJWKSTrustMoveToAnotherURL(t *testing.T) {
	ksLeakCheck(t)
	a := ksNewParty(t, "alice", nil)
	b := ksNewParty(t, "alice", nil)
	oldSrv := ksNewJWKSServer(t, a.key.Public())
	newSrv := ksNewJWKSServer(t, b.key.Public())
	tr := ksTrust(t, newSrv)
	v := ksVerifier(t, tr)
	before := ksCoreGoroutines()
	ksMustTrust(t, tr, "alice", oldSrv.URL)
	ksMustTrust(t, tr, "alice", newSrv.URL)
	if n := len(ksCoreGoroutines()) - len(before); n != 1 {
		t.Errorf("%d new goroutines, want the new URL's only", n)
	}
	if err := ksVerify(t, v, b); err != nil {
		t.Errorf("new URL's key: %v", err)
	}
	if err := ksVerify(t, v, a); !errors.Is(err, asymjwt.ErrUnknownKey) {
		t.Errorf("old URL's key: %v, want ErrUnknownKey", err)
	}
}

func TestJWKSTrustMaxAgeWithinBounds(t *testing.T) {
	const floor, ceiling = time.Minute, 10 * time.Minute
	tests := []struct {
		name    string
		headers map[string]string
		want    time.Duration
	}{
		{"max-age", map[string]string{"Cache-Control": "max-age=120"}, 2 * time.Minute},
		{"among other directives", map[string]string{"Cache-Control": "public, max-age=300, must-revalidate"}, 5 * time.Minute},
		{"quoted, upper case", map[string]string{"Cache-Control": `MAX-AGE="240"`}, 4 * time.Minute},
		{"minus Age", map[string]string{"Cache-Control": "max-age=300", "Age": "120"}, 3 * time.Minute},
		{"below the floor", map[string]string{"Cache-Control": "max-age=5"}, floor},
		{"Age past max-age", map[string]string{"Cache-Control": "max-age=60", "Age": "600"}, floor},
		{"above the ceiling", map[string]string{"Cache-Control": "max-age=86400"}, ceiling},
		{"out of range", map[string]string{"Cache-Control": "max-age=99999999999999999999999"}, ceiling},
		{"no-cache wins", map[string]string{"Cache-Control": "max-age=300, no-cache"}, floor},
		{"no-store", map[string]string{"Cache-Control": "no-store"}, floor},
		{"absent", nil, asymjwt.DefaultJWKSRefresh},
		{"malformed", map[string]string{"Cache-Control": "max-age=soon"}, asymjwt.DefaultJWKSRefresh},
	}
	key := ksNewParty(t, "alice", nil).key.Public()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := ksNewJWKSServer(t, key)
			for k, v := range tt.headers {
				srv.setHeader(k, v)
			}
			tr := ksTrust(t, srv, asymjwt.WithJWKSRefreshBounds(floor, ceiling),
				asymjwt.WithJWKSMinRefreshInterval(time.Millisecond))
			ksMustTrust(t, tr, "alice", srv.URL)
			st := ksStatus(t, tr, "alice")
			if got := st.NextRefresh.Sub(st.Fetched); got != tt.want {
				t.Errorf("next refresh in %v, want %v", got, tt.want)
			}
		})
	}
}

func TestJWKSTrustRefreshTiming(t *testing.T) {
	ksLeakCheck(t)
	key := ksNewParty(t, "alice", nil).key.Public()
	t.Run("floor bounds max-age=0", func(t *testing.T) {
		srv := ksNewJWKSServer(t, key)
		srv.setHeader("Cache-Control", "max-age=0")
		ksMustTrust(t, ksTrust(t, srv, asymjwt.WithJWKSRefreshBounds(100*time.Millisecond, time.Hour),
			asymjwt.WithJWKSMinRefreshInterval(time.Millisecond)), "alice", srv.URL)
		start := time.Now()
		ksEventually(t, 5*time.Second, "refreshed twice", func() bool { return srv.fetches.Load() >= 3 })
		if d := time.Since(start); d < 190*time.Millisecond {
			t.Errorf("three fetches in %v despite a 100ms floor", d)
		}
	})
	t.Run("max-age honoured", func(t *testing.T) {
		srv := ksNewJWKSServer(t, key)
		srv.setHeader("Cache-Control", "max-age=3600")
		ksMustTrust(t, ksTrust(t, srv, asymjwt.WithJWKSRefreshBounds(10*time.Millisecond, 2*time.Hour),
			asymjwt.WithJWKSMinRefreshInterval(time.Millisecond)), "alice", srv.URL)
		ksEventually(t, 5*time.Second, "fetched", func() bool { return srv.fetches.Load() == 1 })
		time.Sleep(200 * time.Millisecond)
		if n := srv.fetches.Load(); n != 1 {
			t.Errorf("%d fetches within max-age", n)
		}
	})
	t.Run("ceiling bounds max-age", func(t *testing.T) {
		srv := ksNewJWKSServer(t, key)
		srv.setHeader("Cache-Control", "max-age=86400")
		ksMustTrust(t, ksTrust(t, srv, asymjwt.WithJWKSRefreshBounds(10*time.Millisecond, 50*time.Millisecond),
			asymjwt.WithJWKSMinRefreshInterval(time.Millisecond)), "alice", srv.URL)
		ksEventually(t, 5*time.Second, "refreshed twice", func() bool { return srv.fetches.Load() >= 3 })
	})
}

func TestJWKSTrustRevalidatesWithETag(t *testing.T) {
	ksLeakCheck(t)
	alice := ksNewParty(t, "alice", nil)
	srv := ksNewJWKSServer(t, alice.key.Public())
	srv.setHeader("ETag", `"v1"`)
	srv.setHeader("Cache-Control", "max-age=0")
	tr := ksTrust(t, srv, asymjwt.WithJWKSRefreshBounds(20*time.Millisecond, time.Hour),
		asymjwt.WithJWKSMinRefreshInterval(time.Millisecond))
	ksMustTrust(t, tr, "alice", srv.URL)
	first := ksStatus(t, tr, "alice")
	ksEventually(t, 5*time.Second, "revalidated twice", func() bool { return srv.fetches.Load() >= 3 })
	srv.mu.Lock()
	sent := append([]string(nil), srv.ifNoneMatch...)
	srv.mu.Unlock()
	if sent[0] != "" || sent[1] != `"v1"` || sent[2] != `"v1"` {
		t.Errorf("If-None-Match sent: %q", sent)
	}
	if err := ksVerify(t, ksVerifier(t, tr), alice); err != nil {
		t.Errorf("after 304s: %v", err)
	}
	if st, _ := tr.Status("alice"); !st.Fetched.After(first.Fetched) || st.Keys != 1 || st.Err != nil {
		t.Errorf("a 304 did not renew the set: %+v", st)
	}
}

func TestJWKSTrustUnknownKIDFlood(t *testing.T) {
	ksLeakCheck(t)
	const interval = 300 * time.Millisecond
	alice := ksNewParty(t, "alice", nil)
	srv := ksNewJWKSServer(t, alice.key.Public())
	tr := ksTrust(t, srv, asymjwt.WithJWKSMinRefreshInterval(interval))
	ksMustTrust(t, tr, "alice", srv.URL)
	v := ksVerifier(t, tr)
	if err := ksVerify(t, v, alice); err != nil {
		t.Fatal(err)
	}
	// Tokens as an attacker makes them: a real token's claims and
	// signature under headers with made-up kids.
	const flood = 1000
	_, rest, _ := strings.Cut(alice.token(t), ".")
	tokens := make([]string, flood)
	for i := range tokens {
		header := fmt.Sprintf(`{"alg":"EdDSA","kid":"%064x","typ":"JWT"}`, i)
		tokens[i] = base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + rest
	}
	time.Sleep(interval) // so that one refresh is due

	start := time.Now()
	var (
		wg      sync.WaitGroup
		next    atomic.Int64
		wrong   atomic.Int64
		lastErr atomic.Value
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < flood; i = next.Add(1) - 1 {
				if _, err := v.Verify(context.Background(), tokens[i]); !errors.Is(err, asymjwt.ErrUnknownKey) {
					wrong.Add(1)
					lastErr.Store(fmt.Sprint(err))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d tokens not refused as unknown key, e.g. %v", n, lastErr.Load())
	}
	// The first fetch, one refresh for the flood, and one more per
	// interval the flood lasted.
	allowed := 2 + int64(elapsed/interval)
	fetches := srv.fetches.Load()
	if fetches < 2 || fetches > allowed {
		t.Errorf("%d unknown kids in %v caused %d fetches in all, want 2..%d", flood, elapsed, fetches, allowed)
	}
	t.Logf("%d tokens with unknown kids in %v: %d fetches", flood, elapsed, fetches)
}

func TestJWKSTrustRotation(t *testing.T) {
	ksLeakCheck(t)
	a := ksNewParty(t, "alice", nil)
	b := ksNewParty(t, "alice", nil)
	const interval = 10 * time.Millisecond
	both := func(t *testing.T, srv *ksJWKSServer, v *asymjwt.Verifier) {
		t.Helper()
		if err := ksVerify(t, v, a); err != nil {
			t.Fatal(err)
		}
		// The client publishes B and uses it at once: the unknown kid
		// brings it in without waiting for the set to expire.
		srv.setKeys(t, a.key.Public(), b.key.Public())
		time.Sleep(interval)
		for _, p := range []ksParty{b, a} {
			if err := ksVerify(t, v, p); err != nil {
				t.Errorf("during the overlap, %s refused: %v", p.kid[:8], err)
			}
		}
		srv.setKeys(t, b.key.Public())
	}
	removed := func(t *testing.T, v *asymjwt.Verifier) {
		t.Helper()
		if err := ksVerify(t, v, a); !errors.Is(err, asymjwt.ErrUnknownKey) {
			t.Errorf("A after its removal: %v, want ErrUnknownKey", err)
		}
		if err := ksVerify(t, v, b); err != nil {
			t.Errorf("B: %v", err)
		}
	}
	t.Run("A dropped at the next unknown kid", func(t *testing.T) {
		srv := ksNewJWKSServer(t, a.key.Public())
		tr := ksTrust(t, srv, asymjwt.WithJWKSMinRefreshInterval(interval))
		ksMustTrust(t, tr, "alice", srv.URL)
		v := ksVerifier(t, tr)
		both(t, srv, v)
		time.Sleep(interval)
		if err := ksVerify(t, v, ksNewParty(t, "alice", nil)); !errors.Is(err, asymjwt.ErrUnknownKey) {
			t.Errorf("unknown kid: %v", err)
		}
		removed(t, v)
		if n := srv.fetches.Load(); n != 3 {
			t.Errorf("%d fetches, want 3: the first and two for unknown kids", n)
		}
	})
	t.Run("A dropped when the set expires", func(t *testing.T) {
		srv := ksNewJWKSServer(t, a.key.Public())
		srv.setHeader("Cache-Control", "max-age=0")
		tr := ksTrust(t, srv, asymjwt.WithJWKSMinRefreshInterval(interval),
			asymjwt.WithJWKSRefreshBounds(30*time.Millisecond, time.Hour))
		ksMustTrust(t, tr, "alice", srv.URL)
		v := ksVerifier(t, tr)
		both(t, srv, v)
		n := srv.fetches.Load()
		ksEventually(t, 5*time.Second, "refreshed", func() bool { return srv.fetches.Load() >= n+2 })
		removed(t, v)
	})
}

func TestJWKSTrustFailures(t *testing.T) {
	ksLeakCheck(t)
	alice := ksNewParty(t, "alice", nil)
	good := must(json.Marshal(must(asymjwt.NewJWKS(alice.key.Public()))))
	huge := append(append([]byte(`{"keys":[`), []byte(strings.Repeat(" ", 10<<20))...), "]}"...)
	tests := []struct {
		name    string
		status  int
		body    []byte
		chunked bool
		delay   time.Duration
		errText string
	}{
		{"404", http.StatusNotFound, good, false, 0, "status 404"},
		{"500", http.StatusInternalServerError, good, false, 0, "status 500"},
		{"204", http.StatusNoContent, nil, false, 0, "status 204"},
		{"not JSON", http.StatusOK, []byte("<html>"), false, 0, "JSON"},
		{"not a set", http.StatusOK, []byte(`{"kty":"OKP"}`), false, 0, `"keys"`},
		{"10 MiB with Content-Length", http.StatusOK, huge, false, 0, "limit"},
		{"10 MiB chunked", http.StatusOK, huge, true, 0, "limit"},
		{"slow endpoint", http.StatusOK, good, false, time.Minute, "deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := ksNewJWKSServer(t)
			srv.set(tt.status, tt.body)
			srv.setSlow(tt.delay, tt.chunked)
			tr := ksTrust(t, srv, asymjwt.WithJWKSFetchTimeout(time.Second))
			start := time.Now()
			ksMustTrust(t, tr, "alice", srv.URL)
			// Never fetched: a store failure (503), never "unknown".
			err := ksVerify(t, ksVerifier(t, tr), alice)
			if asymjwt.StatusCode(err) != 503 || errors.Is(err, asymjwt.ErrUnknownUser) || errors.Is(err, asymjwt.ErrUnknownKey) {
				t.Errorf("without a good set: %v, want a store failure", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("the first request waited %v", d)
			}
			st, _ := tr.Status("alice")
			if st.Err == nil || !strings.Contains(st.Err.Error(), tt.errText) || st.Keys != 0 {
				t.Errorf("Status = %+v, want an error with %q", st, tt.errText)
			}
		})
	}
}

func TestJWKSTrustRetriesAfterInterval(t *testing.T) {
	ksLeakCheck(t)
	const interval = 300 * time.Millisecond
	alice := ksNewParty(t, "alice", nil)
	srv := ksNewJWKSServer(t, alice.key.Public())
	srv.set(http.StatusServiceUnavailable, nil)
	tr := ksTrust(t, srv, asymjwt.WithJWKSMinRefreshInterval(interval))
	ksMustTrust(t, tr, "alice", srv.URL)
	v := ksVerifier(t, tr)
	if err := ksVerify(t, v, alice); asymjwt.StatusCode(err) != 503 {
		t.Fatalf("first try: %v", err)
	}
	st, _ := tr.Status("alice")
	if want := st.LastAttempt.Add(interval); st.NextRefresh.Before(want) {
		t.Errorf("retry planned at %v, before the interval ends at %v", st.NextRefresh, want)
	}
	if err := ksVerify(t, v, alice); asymjwt.StatusCode(err) != 503 {
		t.Errorf("second try: %v", err)
	}
	if n := srv.fetches.Load(); n != 1 && time.Since(st.LastAttempt) < interval {
		t.Errorf("a failed fetch was retried within the min interval: %d fetches", n)
	}
	srv.setKeys(t, alice.key.Public())
	time.Sleep(time.Until(st.LastAttempt.Add(interval)))
	if err := ksVerify(t, v, alice); err != nil {
		t.Errorf("after the endpoint recovered: %v", err)
	}
}

// must returns v, panicking on err: for values a test cannot go on without.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestJWKSTrustServesLastGoodSetWhileDown(t *testing.T) {
	ksLeakCheck(t)
	alice := ksNewParty(t, "alice", nil)
	srv := ksNewJWKSServer(t, alice.key.Public())
	srv.setHeader("Cache-Control", "max-age=0")
	tr := ksTrust(t, srv, asymjwt.WithJWKSRefreshBounds(20*time.Millisecond, time.Hour),
		asymjwt.WithJWKSMinRefreshInterval(20*time.Millisecond))
	ksMustTrust(t, tr, "alice", srv.URL)
	v := ksVerifier(t, tr)
	if err := ksVerify(t, v, alice); err != nil {
		t.Fatal(err)
	}
	failing := func(what string) {
		t.Helper()
		mark := time.Now()
		ksEventually(t, 5*time.Second, what+" seen", func() bool {
			st, _ := tr.Status("alice")
			return st.LastAttempt.After(mark) && st.NextRefresh.After(st.LastAttempt) && st.Err != nil
		})
		if err := ksVerify(t, v, alice); err != nil {
			t.Errorf("%s: the last good set was dropped: %v", what, err)
		}
		// An unknown kid is still only an unknown kid.
		if err := ksVerify(t, v, ksNewParty(t, "alice", nil)); !errors.Is(err, asymjwt.ErrUnknownKey) {
			t.Errorf("%s: unknown kid: %v", what, err)
		}
	}
	srv.set(http.StatusBadGateway, nil)
	failing("502")
	srv.set(http.StatusOK, []byte("{"))
	failing("bad JSON")
	srv.Close()
	failing("endpoint gone")
}

func TestJWKSTrustMaxStaleness(t *testing.T) {
	ksLeakCheck(t)
	alice := ksNewParty(t, "alice", nil)
	srv := ksNewJWKSServer(t, alice.key.Public())
	const maxStale = 300 * time.Millisecond
	tr := ksTrust(t, srv, asymjwt.WithJWKSRefreshBounds(10*time.Millisecond, 20*time.Millisecond),
		asymjwt.WithJWKSMinRefreshInterval(10*time.Millisecond), asymjwt.WithJWKSFetchTimeout(100*time.Millisecond),
		asymjwt.WithJWKSMaxStaleness(maxStale))
	ksMustTrust(t, tr, "alice", srv.URL)
	v := ksVerifier(t, tr)
	if err := ksVerify(t, v, alice); err != nil {
		t.Fatal(err)
	}
	if st, _ := tr.Status("alice"); !st.Expires.Equal(st.Fetched.Add(maxStale)) {
		t.Errorf("Status = %+v, want Expires %v after Fetched", st, maxStale)
	}
	// A gone endpoint (404, 410) is a failure like any other: the last
	// good set serves for a while, but not past the max staleness.
	for _, status := range []int{http.StatusNotFound, http.StatusGone, http.StatusServiceUnavailable} {
		srv.set(status, []byte("gone"))
		mark := time.Now()
		var st asymjwt.JWKSStatus
		ksEventually(t, 5*time.Second, "the failure seen", func() bool {
			st, _ = tr.Status("alice")
			return st.LastAttempt.After(mark) && st.Err != nil
		})
		if time.Until(st.Expires) > maxStale/2 {
			if err := ksVerify(t, v, alice); err != nil {
				t.Errorf("%d: the last good set was dropped before the max staleness: %v", status, err)
			}
		}
		ksEventually(t, 5*time.Second, fmt.Sprintf("refused %v after the last success (%d)", maxStale, status), func() bool {
			return asymjwt.StatusCode(ksVerify(t, v, alice)) == 503
		})
		err := ksVerify(t, v, alice)
		if errors.Is(err, asymjwt.ErrUnknownUser) || errors.Is(err, asymjwt.ErrUnknownKey) || !strings.Contains(err.Error(), "max staleness") {
			t.Errorf("%d: %v, want a store failure naming the max staleness", status, err)
		}
		if time.Now().Before(st.Expires) {
			t.Errorf("%d: refused before the set expired at %v", status, st.Expires)
		}
		if _, err := tr.Keys(context.Background(), "alice", alice.kid); err == nil ||
			errors.Is(err, asymjwt.ErrUnknownKey) || errors.Is(err, asymjwt.ErrUnknownUser) {
			t.Errorf("%d: lookup by kid in a stale set: %v, want a store error", status, err)
		}
		// Back up: trusted again at the next fetch.
		srv.setKeys(t, alice.key.Public())
		ksEventually(t, 5*time.Second, "trusted again", func() bool { return ksVerify(t, v, alice) == nil })
	}
}

func TestJWKSTrustMaxStalenessFloor(t *testing.T) {
	// A max staleness below the refresh ceiling plus the fetch timeout
	// would fail a healthy endpoint between two refreshes.
	srv := ksNewJWKSServer(t, ksNewParty(t, "alice", nil).key.Public())
	tr := ksTrust(t, srv, asymjwt.WithJWKSMaxStaleness(time.Nanosecond))
	ksMustTrust(t, tr, "alice", srv.URL)
	st := ksStatus(t, tr, "alice")
	if want := asymjwt.DefaultJWKSRefreshCeiling + asymjwt.DefaultJWKSFetchTimeout; st.Expires.Sub(st.Fetched) != want {
		t.Errorf("max staleness %v, want it raised to %v", st.Expires.Sub(st.Fetched), want)
	}
}

func TestJWKSTrustRedirects(t *testing.T) {
	ksLeakCheck(t)
	alice := ksNewParty(t, "alice", nil)
	other := ksNewJWKSServer(t, alice.key.Public()) // another host: same address, another port
	var self string
	redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/jwks", http.StatusFound)
		case "/elsewhere":
			http.Redirect(w, r, other.URL, http.StatusFound)
		case "/by-name":
			http.Redirect(w, r, strings.Replace(self, "127.0.0.1", "localhost", 1)+"/jwks", http.StatusFound)
		case "/jwks":
			w.Write(must(json.Marshal(must(asymjwt.NewJWKS(alice.key.Public())))))
		}
	}))
	defer redirector.Close()
	self = redirector.URL
	tests := []struct {
		name, path string
		anyHost    bool
		ok         bool
	}{
		{"same host", "/moved", false, true},
		{"another port", "/elsewhere", false, false},
		{"another host name", "/by-name", false, false},
		{"another host, allowed", "/elsewhere", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []asymjwt.JWKSTrustOption{asymjwt.WithJWKSHTTPClient(redirector.Client())}
			if tt.anyHost {
				opts = append(opts, asymjwt.InsecureJWKSAllowRedirectsToAnyHost())
			}
			tr := ksTrust(t, nil, opts...)
			ksMustTrust(t, tr, "alice", redirector.URL+tt.path)
			err := ksVerify(t, ksVerifier(t, tr), alice)
			if tt.ok {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if asymjwt.StatusCode(err) != 503 {
				t.Errorf("via a redirect to another host: %v, want a store failure", err)
			}
			if st, _ := tr.Status("alice"); st.Err == nil || !strings.Contains(st.Err.Error(), "another host") {
				t.Errorf("Status after a redirect to another host: %+v", st)
			}
		})
	}
}

func TestJWKSTrustStartupDoesNotBlock(t *testing.T) {
	ksLeakCheck(t)
	dead := httptest.NewTLSServer(http.NotFoundHandler())
	url, client := dead.URL, dead.Client()
	dead.Close()
	tr := asymjwt.NewJWKSTrust(asymjwt.WithJWKSHTTPClient(client), asymjwt.WithJWKSLogger(ksQuiet))
	defer tr.Close()
	start := time.Now()
	ksMustTrust(t, tr, "alice", url)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Trust blocked %v on a dead endpoint", d)
	}
	_, err := tr.Keys(context.Background(), "alice", "")
	if err == nil || errors.Is(err, asymjwt.ErrUnknownUser) {
		t.Errorf("Keys on a dead endpoint: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Keys took %v", d)
	}
	// A request that gives up first is not held.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Keys(ctx, "alice", ""); err == nil {
		t.Error("Keys with a cancelled context succeeded")
	}
}

func TestJWKSTrustPythonForm(t *testing.T) {
	var tok struct {
		Username    string `json:"username"`
		Time        int64  `json:"time"`
		Fingerprint string `json:"fingerprint"`
		Token       string `json:"token"`
	}
	if err := json.Unmarshal(ksFixture(t, "python-token.json"), &tok); err != nil {
		t.Fatal(err)
	}
	srv := ksNewJWKSServer(t)
	srv.set(http.StatusOK, ksFixture(t, "python-jwks.json"))
	tr := ksTrust(t, srv)
	ksMustTrust(t, tr, tok.Username, srv.URL)
	v := ksVerifier(t, tr, asymjwt.WithClock(func() time.Time { return time.Unix(tok.Time, 0) }))
	id, err := v.Verify(context.Background(), tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if id.Username != "alice" || id.KeyID != tok.Fingerprint || id.Algorithm != asymjwt.RS512 {
		t.Errorf("identity %+v", id)
	}
	keys, err := tr.Keys(context.Background(), tok.Username, tok.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := keys[0].(*asymjwt.PinnedKey); !ok || p.Algorithm != asymjwt.RS512 {
		t.Errorf("the JWK's alg did not pin the key: %T", keys[0])
	}
}

func TestJWKSTrustAlgorithmPinning(t *testing.T) {
	pub := ksRSAKey(t).Public()
	pinned, err := asymjwt.NewPinnedKey(pub, asymjwt.RS256)
	if err != nil {
		t.Fatal(err)
	}
	enc := ksNewParty(t, "alice", nil)
	set := must(asymjwt.NewJWKS(pinned.PublicKey, enc.key.Public()))
	set.Keys[0].Alg = asymjwt.RS256
	set.Keys[1].Use = "enc"
	srv := ksNewJWKSServer(t)
	srv.set(http.StatusOK, must(json.Marshal(set)))
	tr := ksTrust(t, srv)
	ksMustTrust(t, tr, "alice", srv.URL)
	v := ksVerifier(t, tr)
	tests := []struct {
		name string
		p    ksParty
		err  error
	}{
		{"the pinned alg", ksNewParty(t, "alice", ksRSAKey(t), asymjwt.WithAlgorithm(asymjwt.RS256)), nil},
		{"another alg the key allows", ksNewParty(t, "alice", ksRSAKey(t), asymjwt.WithAlgorithm(asymjwt.RS512)), asymjwt.ErrAlgorithm},
		{"PSS", ksNewParty(t, "alice", ksRSAKey(t), asymjwt.WithAlgorithm(asymjwt.PS256)), asymjwt.ErrAlgorithm},
		{"a key with use enc", enc, asymjwt.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ksVerify(t, v, tt.p)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("got %v, want %v", err, tt.err)
			}
		})
	}
}

func TestJWKSTrustURLs(t *testing.T) {
	ksLeakCheck(t)
	alice := ksNewParty(t, "alice", nil)
	plain := httptest.NewServer(must(asymjwt.NewJWKSHandler(alice.key.Public())))
	defer plain.Close()
	secure := ksNewJWKSServer(t, alice.key.Public())
	tr := ksTrust(t, secure)
	refused := []struct{ username, url string }{
		{"alice", plain.URL},
		{"alice", "ftp://example.com/jwks.json"},
		{"alice", "https:///jwks.json"},
		{"alice", "://bad"},
		{"", secure.URL},
		{strings.Repeat("a", 257), secure.URL},
	}
	for _, r := range refused {
		if err := tr.Trust(r.username, r.url); err == nil {
			t.Errorf("Trust(%.10q, %q) accepted", r.username, r.url)
		}
	}

	// A password in the URL is used, but never shown.
	withPassword := strings.Replace(secure.URL, "https://", "https://svc:s3cret@", 1)
	ksMustTrust(t, tr, "alice", withPassword)
	if err := ksVerify(t, ksVerifier(t, tr), alice); err != nil {
		t.Errorf("URL with a password: %v", err)
	}
	if st, _ := tr.Status("alice"); strings.Contains(st.URL, "s3cret") || !strings.Contains(st.URL, "svc:") {
		t.Errorf("Status.URL = %q", st.URL)
	}

	// A redirect from https to plain http is refused too.
	redirect := httptest.NewTLSServer(http.RedirectHandler(plain.URL, http.StatusFound))
	defer redirect.Close()
	tr2 := ksTrust(t, nil, asymjwt.WithJWKSHTTPClient(redirect.Client()))
	ksMustTrust(t, tr2, "alice", redirect.URL)
	if err := ksVerify(t, ksVerifier(t, tr2), alice); asymjwt.StatusCode(err) != 503 {
		t.Errorf("via a redirect to http: %v", err)
	}
	if st, _ := tr2.Status("alice"); st.Err == nil || !strings.Contains(st.Err.Error(), "plain http") {
		t.Errorf("Status after a redirect to http: %+v", st)
	}

	insecure := ksTrust(t, nil, asymjwt.InsecureJWKSAllowHTTP())
	ksMustTrust(t, insecure, "alice", plain.URL)
	if err := ksVerify(t, ksVerifier(t, insecure), alice); err != nil {
		t.Errorf("plain http with InsecureJWKSAllowHTTP: %v", err)
	}
}

func TestJWKSTrustClose(t *testing.T) {
	ksLeakCheck(t)
	alice := ksNewParty(t, "alice", nil)
	srv := ksNewJWKSServer(t, alice.key.Public())
	srv.setSlow(time.Minute, false) // a fetch in flight when Close comes
	tr := asymjwt.NewJWKSTrust(asymjwt.WithJWKSHTTPClient(srv.Client()), asymjwt.WithJWKSLogger(ksQuiet))
	ksMustTrust(t, tr, "alice", srv.URL)
	ksMustTrust(t, tr, "bob", srv.URL+"/bob")
	ksEventually(t, 5*time.Second, "fetching", func() bool { return srv.fetches.Load() == 2 })

	waiting := make(chan error)
	go func() {
		_, err := tr.Keys(context.Background(), "alice", "")
		waiting <- err
	}()
	start := time.Now()
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; err == nil {
		t.Error("a lookup waiting for the first fetch succeeded after Close")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := ksVerify(t, ksVerifier(t, tr), alice); asymjwt.StatusCode(err) != 503 {
		t.Errorf("after Close: %v, want a store failure", err)
	}
	if err := tr.Trust("carol", srv.URL); err == nil {
		t.Error("Trust after Close succeeded")
	}
}

func TestParseJWKS(t *testing.T) {
	keys, err := asymjwt.ParseJWKS(ksFixture(t, "mixed-jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"84f73193127f644eb99de7f43596a772a07b604b824af1c4b3dcc258afc391cd", // RSA, Python form
		"10e8965f935f467be44dcf425cda497bd17d22fba08acda017a71eb7ee97a65b", // Ed25519, key_ops verify
	}
	if len(keys) != len(want) {
		t.Fatalf("got %d keys, want %d", len(keys), len(want))
	}
	for i, k := range keys {
		if fp, _ := asymjwt.Fingerprint(k); fp != want[i] {
			t.Errorf("key %d: %s, want %s", i, fp, want[i])
		}
	}
	if p, ok := keys[0].(*asymjwt.PinnedKey); !ok || p.Algorithm != asymjwt.RS512 {
		t.Errorf("RSA key with alg RS512 not pinned: %#v", keys[0])
	}
	if _, ok := keys[1].(*asymjwt.PinnedKey); ok {
		t.Error("a key without alg was pinned")
	}
	for _, bad := range []string{"", "null", "[]", `{"keys":{}}`, `{"keys":"x"}`, `{}`, `{"keys":[`} {
		if _, err := asymjwt.ParseJWKS([]byte(bad)); !errors.Is(err, asymjwt.ErrInvalidKey) {
			t.Errorf("%q: %v, want ErrInvalidKey", bad, err)
		}
	}
	if keys, err := asymjwt.ParseJWKS([]byte(`{"keys":[]}`)); err != nil || len(keys) != 0 {
		t.Errorf("empty set: %v, %v", keys, err)
	}
}

func FuzzParseJWKS(f *testing.F) {
	f.Add(ksFixture(f, "mixed-jwks.json"))
	f.Add(ksFixture(f, "python-jwks.json"))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := asymjwt.ParseJWKS(data)
		if err != nil {
			return
		}
		for _, k := range keys {
			algs, err := asymjwt.AllowedAlgorithms(k)
			if err != nil || len(algs) == 0 {
				t.Fatalf("ParseJWKS returned an unusable key %#v: %v", k, err)
			}
			if _, err := asymjwt.Fingerprint(k); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestJWKSTrustCachedLookupsDoNotAllocate(t *testing.T) {
	alice := ksNewParty(t, "alice", nil)
	srv := ksNewJWKSServer(t, alice.key.Public())
	tr := ksTrust(t, srv)
	ksMustTrust(t, tr, "alice", srv.URL)
	ctx := context.Background()
	if _, err := tr.Keys(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{alice.kid, ""} {
		if n := testing.AllocsPerRun(100, func() {
			if _, err := tr.Keys(ctx, "alice", kid); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Keys(alice, %q) allocates %v times", kid, n)
		}
	}
}
