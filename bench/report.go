package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Result is one benchmark line of `go test -bench -benchmem` output.
type Result struct {
	// Name is the benchmark's name without "Benchmark" and without the
	// -GOMAXPROCS suffix: "Auth/RS256/asymjwt/bare".
	Name string
	// N is the iteration count.
	N int64
	// Metrics maps a unit ("ns/op", "B/op", "allocs/op", "B/entry", ...)
	// to its value.
	Metrics map[string]float64
}

// Results is a parsed run: the results by name and the machine lines
// (goos, goarch, cpu, pkg) go test prints before them.
type Results struct {
	Machine map[string]string
	byName  map[string]Result
}

// Get returns the result of the benchmark called name.
func (r *Results) Get(name string) (Result, bool) {
	res, ok := r.byName[name]
	return res, ok
}

// ParseResults reads go test -bench output. Lines it does not know are
// skipped (go test mixes in logs); a benchmark line it cannot read, a
// failure, or no result at all is an error.
func ParseResults(in io.Reader) (*Results, error) {
	r := &Results{Machine: map[string]string{}, byName: map[string]Result{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "--- FAIL") || line == "FAIL" || strings.HasPrefix(line, "FAIL\t"):
			return nil, fmt.Errorf("bench: the run failed: %s", line)
		case strings.HasPrefix(line, "Benchmark"):
			res, err := parseLine(line)
			if err != nil {
				return nil, err
			}
			if res.Name == "" {
				continue // a benchmark's log line, not a result
			}
			if _, dup := r.byName[res.Name]; dup {
				return nil, fmt.Errorf("bench: %s appears twice (run with -count 1)", res.Name)
			}
			r.byName[res.Name] = res
		default:
			for _, key := range []string{"goos", "goarch", "cpu", "pkg"} {
				if v, ok := strings.CutPrefix(line, key+":"); ok {
					r.Machine[key] = strings.TrimSpace(v)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(r.byName) == 0 {
		return nil, errors.New("bench: no benchmark results in the input")
	}
	return r, nil
}

// parseLine reads "BenchmarkX/y-2  1000  123.4 ns/op  56 B/op ...". A
// line with a single field (the name go test prints before a benchmark's
// log output) yields an empty Result.
func parseLine(line string) (Result, error) {
	f := strings.Fields(line)
	if len(f) == 1 {
		return Result{}, nil
	}
	if len(f) < 4 || len(f)%2 != 0 {
		return Result{}, fmt.Errorf("bench: cannot read benchmark line %q", line)
	}
	name := strings.TrimPrefix(f[0], "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || n <= 0 {
		return Result{}, fmt.Errorf("bench: bad iteration count in %q", line)
	}
	res := Result{Name: name, N: n, Metrics: map[string]float64{}}
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Result{}, fmt.Errorf("bench: bad value %q in %q", f[i], line)
		}
		res.Metrics[f[i+1]] = v
	}
	if _, ok := res.Metrics["ns/op"]; !ok {
		return Result{}, fmt.Errorf("bench: no ns/op in %q", line)
	}
	return res, nil
}

// Meta is what the report says about the run besides the results.
type Meta struct {
	// Command is the exact command that produced the results.
	Command string
	// GoVersion and CPUs describe the toolchain and the machine.
	GoVersion string
	CPUs      int
}

// WriteMarkdown writes the report's tables: the peer table with its ×
// floor column, what each library checks, the frameworks' own cost, and
// the scale tables. Tables whose benchmarks did not run are left out.
func (r *Results) WriteMarkdown(w io.Writer, meta Meta) error {
	p := &printer{w: w}
	p.linef("### Machine and command\n")
	p.linef("- CPU: %s (%d logical CPUs), %s/%s, %s", r.Machine["cpu"], meta.CPUs, r.Machine["goos"], r.Machine["goarch"], meta.GoVersion)
	p.linef("- Command: `%s`\n", meta.Command)
	r.writePeers(p)
	writeChecks(p)
	r.writeBaselines(p)
	r.writeClients(p)
	r.writeReplay(p)
	r.writeParallel(p)
	return p.err
}

func (r *Results) writePeers(p *printer) {
	t := table{header: []string{"library", "framework", "algorithm", "ns/op", "CPU ns/op", "B/op", "allocs/op", "× floor", "× floor (CPU)"}}
	for _, c := range Cases() {
		res, ok := r.Get("Auth/" + c.Name())
		if !ok {
			continue
		}
		floor, haveFloor := r.Get("Auth/" + c.Alg + "/floor/" + Bare)
		t.add(c.Library, FrameworkName(c.Framework), c.Alg, ns(res), cpuNs(res), bytesOp(res), allocs(res),
			ratio(res, floor, haveFloor, "ns/op"), ratio(res, floor, haveFloor, cpuUnit))
	}
	p.table("### Authenticating one request", "Same key, same algorithm, same request (GET /v1/items?page=2); asymjwt verifies a fresh token per request (replay protection), the peers one token of the same shape. Framework rows include the framework: see the baseline table. CPU ns/op is the process's CPU time per request: on a shared machine, wall time also counts other tenants' work.", t)
}

func writeChecks(p *printer) {
	t := table{header: []string{"library", "framework", "replay", "expiry", "audience", "request bound to another", "unbound request"}}
	seen := map[string]bool{}
	for _, c := range Cases() {
		key := c.Library + "|" + c.Framework
		if seen[key] {
			continue
		}
		seen[key] = true
		ch := c.Checks
		t.add(c.Library, FrameworkName(c.Framework), refuses(ch.Replay), refuses(ch.Expiry), refuses(ch.Audience), refuses(ch.Binding), refuses(ch.RequireBinding))
	}
	p.table("### What each refuses", "Beyond a bad signature, a foreign key, alg none and HS256 with the public key (all refuse those). Each cell is proved by TestCases.", t)
}

func refuses(b bool) string {
	if b {
		return "refused"
	}
	return "accepted"
}

func (r *Results) writeBaselines(p *printer) {
	t := table{header: []string{"framework", "ns/op", "CPU ns/op", "B/op", "allocs/op"}}
	for _, c := range Baselines() {
		if res, ok := r.Get("Baseline/" + c.Framework); ok {
			t.add(FrameworkName(c.Framework), ns(res), cpuNs(res), bytesOp(res), allocs(res))
		}
	}
	p.table("### The frameworks alone", "The same route with no authentication.", t)
}

func (r *Results) writeClients(p *printer) {
	t := table{header: []string{"registered clients", "ns/op", "CPU ns/op", "B/op", "allocs/op", "× 1 client", "× 1 client (CPU)", "key store B/client"}}
	one, haveOne := r.Get("ScaleClients/clients=1")
	for _, n := range []int{1, 1_000, 100_000} {
		res, ok := r.Get(fmt.Sprintf("ScaleClients/clients=%d", n))
		if !ok {
			continue
		}
		t.add(group(int64(n)), ns(res), cpuNs(res), bytesOp(res), allocs(res),
			ratio(res, one, haveOne, "ns/op"), ratio(res, one, haveOne, cpuUnit), fmt.Sprintf("%.0f", res.Metrics["B/client"]))
	}
	p.table("### Scale: registered clients", "asymjwt Verify, EdDSA, MemoryKeyStore; each request from a client picked at random.", t)
}

func (r *Results) writeReplay(p *printer) {
	t := table{header: []string{"live entries", "ns/op", "CPU ns/op", "B/op", "allocs/op", "heap B/entry", "sweep CPU ns/entry"}}
	for _, n := range []int{0, 1_000_000} {
		if res, ok := r.Get(fmt.Sprintf("ReplayStore/live=%d", n)); ok {
			sweep := "—"
			if v, ok := res.Metrics["sweep-ns/entry"]; ok {
				sweep = fmt.Sprintf("%.1f", v)
			}
			t.add(group(int64(n)), ns(res), cpuNs(res), bytesOp(res), allocs(res), fmt.Sprintf("%.1f", res.Metrics["B/entry"]), sweep)
		}
	}
	p.table("### Scale: replay store", "MemoryReplayStore.Claim of a new key, the store's clock standing still. Each shard also sweeps once a second, walking all its live entries: the last column is that cost per live entry, per second.", t)
}

func (r *Results) writeParallel(p *printer) {
	t := table{header: []string{"library", "GOMAXPROCS", "ns/op", "verifications/s", "× GOMAXPROCS=1"}}
	for _, c := range Cases() {
		if c.Alg != "RS256" || c.Framework != Bare {
			continue
		}
		single, haveSingle := r.Get("Parallel/GOMAXPROCS=1/" + c.Name())
		for _, procs := range []int{1, 2} {
			res, ok := r.Get(fmt.Sprintf("Parallel/GOMAXPROCS=%d/%s", procs, c.Name()))
			if !ok {
				continue
			}
			// Throughput relative to one P: the inverse of the time ratio.
			speedup := "—"
			if haveSingle {
				speedup = fmt.Sprintf("%.2f×", single.Metrics["ns/op"]/res.Metrics["ns/op"])
			}
			t.add(c.Library, strconv.Itoa(procs), ns(res), group(int64(1e9/res.Metrics["ns/op"]+0.5)), speedup)
		}
	}
	p.table("### Scale: parallel throughput", "RS256, b.RunParallel; wall time, since throughput is the point. The last column is throughput relative to one P.", t)
}

// cpuUnit is the benchmarks' process CPU time per iteration.
const cpuUnit = "cpu-ns/op"

// ratio is res / base in unit, or "—" when either lacks it.
func ratio(res, base Result, haveBase bool, unit string) string {
	v, ok := res.Metrics[unit]
	b, okBase := base.Metrics[unit]
	if !haveBase || !ok || !okBase || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", v/b)
}

func cpuNs(r Result) string {
	v, ok := r.Metrics[cpuUnit]
	if !ok {
		return "—"
	}
	return group(int64(v + 0.5))
}

func ns(r Result) string      { return group(int64(r.Metrics["ns/op"] + 0.5)) }
func bytesOp(r Result) string { return group(int64(r.Metrics["B/op"])) }
func allocs(r Result) string  { return group(int64(r.Metrics["allocs/op"])) }

// group writes n with thousands separators: 1,234,567.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// printer writes markdown and keeps the first write error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) linef(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
	}
}

// table writes a titled markdown table, numbers right-aligned; nothing
// when it has no rows.
func (p *printer) table(title, caption string, t table) {
	if len(t.rows) == 0 {
		return
	}
	p.linef("%s\n\n%s\n", title, caption)
	p.linef("| %s |", strings.Join(t.header, " | "))
	// A column with a number in any row is right-aligned.
	align := make([]string, len(t.header))
	for i := range align {
		align[i] = "---"
		for _, row := range t.rows {
			if numeric(row[i]) {
				align[i] = "---:"
			}
		}
	}
	p.linef("|%s|", strings.Join(align, "|"))
	for _, row := range t.rows {
		p.linef("| %s |", strings.Join(row, " | "))
	}
	p.linef("")
}

func numeric(s string) bool {
	s = strings.NewReplacer(",", "", "×", "", ".", "").Replace(s)
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}
