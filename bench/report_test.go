package bench_test

import (
	"os"
	"strings"
	"testing"

	"github.com/asymjwt/asymjwt/bench"
)

// sample parses testdata/sample.txt: made-up results in go test's
// format, a log line and the machine lines included.
func sample(t *testing.T) *bench.Results {
	t.Helper()
	f, err := os.Open("testdata/sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := bench.ParseResults(f)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestParseResults(t *testing.T) {
	res := sample(t)
	if got := res.Machine["cpu"]; got != "Test CPU @ 3.00GHz" {
		t.Errorf("cpu %q", got)
	}
	tests := []struct {
		name  string
		unit  string
		value float64
	}{
		{"Auth/RS256/floor/bare", "ns/op", 20000},
		{"Auth/RS256/asymjwt/nethttp", "allocs/op", 22},
		{"Baseline/gin", "ns/op", 33.15},
		{"Parallel/GOMAXPROCS=2/RS256/asymjwt/bare", "ns/op", 14000},
		{"ScaleClients/clients=100000", "B/client", 610.9},
		{"ReplayStore/live=1000000", "B/entry", 44.57},
	}
	for _, tt := range tests {
		r, ok := res.Get(tt.name)
		if !ok {
			t.Errorf("%s: missing", tt.name)
			continue
		}
		if got := r.Metrics[tt.unit]; got != tt.value {
			t.Errorf("%s: %s = %v, want %v", tt.name, tt.unit, got, tt.value)
		}
		if r.N != 10000 {
			t.Errorf("%s: N = %d", tt.name, r.N)
		}
	}
	if _, ok := res.Get("Auth/RS256/asymjwt/nethttp-2"); ok {
		t.Error("the -GOMAXPROCS suffix was kept")
	}
}

func TestParseResultsRefuses(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"empty", "", "no benchmark results"},
		{"only headers", "goos: linux\nPASS\n", "no benchmark results"},
		{"failed benchmark", "BenchmarkA-2 10 5 ns/op\n--- FAIL: BenchmarkB\n", "failed"},
		{"failed package", "BenchmarkA-2 10 5 ns/op\nFAIL\tgithub.com/x\t1.0s\n", "failed"},
		{"odd fields", "BenchmarkA-2 10 5 ns/op 7\n", "cannot read"},
		{"bad count", "BenchmarkA-2 ten 5 ns/op\n", "iteration count"},
		{"zero count", "BenchmarkA-2 0 5 ns/op\n", "iteration count"},
		{"bad value", "BenchmarkA-2 10 fast ns/op\n", "bad value"},
		{"no ns/op", "BenchmarkA-2 10 5 B/op\n", "no ns/op"},
		{"twice", "BenchmarkA-2 10 5 ns/op\nBenchmarkA-2 10 6 ns/op\n", "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bench.ParseResults(strings.NewReader(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestWriteMarkdown(t *testing.T) {
	res := sample(t)
	var out strings.Builder
	if err := res.WriteMarkdown(&out, bench.Meta{Command: "go test -bench .", GoVersion: "go1.26", CPUs: 2}); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	for _, want := range []string{
		"- CPU: Test CPU @ 3.00GHz (2 logical CPUs), linux/amd64, go1.26",
		"- Command: `go test -bench .`",
		"| library | framework | algorithm | ns/op | CPU ns/op | B/op | allocs/op | × floor | × floor (CPU) |",
		"|---|---|---|---:|---:|---:|---:|---:|---:|",
		"| floor: bare signature check | — | RS256 | 20,000 | 20,000 | 2,016 | 11 | 1.00× | 1.00× |",
		"| golang-jwt/jwt v5.3.1 ParseWithClaims | — | RS256 | 30,000 | 24,000 | 5,048 | 65 | 1.50× | 1.20× |",
		"| asymjwt Verify | — | RS256 | 25,000 | 23,000 | 2,962 | 18 | 1.25× | 1.15× |",
		// No CPU time in the input: no CPU ratio rather than a wrong one.
		"| asymjwt Middleware | net/http | RS256 | 26,000 | — | 3,410 | 22 | 1.30× | — |",
		// No ES256 floor in the input: no ratio rather than a wrong one.
		"| asymjwt Verify | — | ES256 | 50,000 | — | 2,609 | 30 | — | — |",
		"| gin v1.12.0 | 33 | — | 2 | 0 |",
		"| 1 | 40,000 | 40,000 | 1,230 | 7 | 1.00× | 1.00× | 312 |",
		"| 100,000 | 44,000 | 48,000 | 3,757 | 32 | 1.10× | 1.20× | 611 |",
		"| 1,000,000 | 1,448 | 400 | 0 | 0 | 44.6 | 10.7 |",
		"| asymjwt Verify | 1 | 28,000 | 35,714 | 1.00× |",
		"| asymjwt Verify | 2 | 14,000 | 71,429 | 2.00× |",
		"| asymjwt Middleware, strict (qsh+bh required) | net/http | refused | refused | refused | refused | refused |",
		"| appleboy/gin-jwt v2.10.3 | gin v1.12.0 | accepted | refused | accepted | accepted | accepted |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	// Rows whose benchmarks did not run are left out, not printed empty.
	if strings.Contains(md, "| auth0/go-jwt-middleware v2.3.1 | net/http | RS256") {
		t.Error("a row without a result was printed")
	}
	if t.Failed() {
		t.Log(md)
	}
}
