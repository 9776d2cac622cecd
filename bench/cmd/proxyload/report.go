package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// report formats the results as the markdown table BENCHMARKS.md holds.
func report(cfg config, results []result, floorBefore, floorAfter time.Duration) string {
	floor := (floorBefore + floorAfter) / 2
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests per case at concurrency %d, Ed25519, %s/%s, GOMAXPROCS %d (this process)\n\n",
		cfg.n, cfg.c, runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "bare Ed25519 signature check: %s CPU (%s before the load, %s after)\n\n",
		us(floor), us(floorBefore), us(floorAfter))
	b.WriteString("| proxy | req/s | p50 | p99 | proxy CPU / req | added vs bare | added / sig check |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	byName := map[string]result{}
	for _, r := range results {
		byName[r.name] = r
	}
	bare, haveBare := byName["bare"]
	for _, r := range results {
		added, ratio := "—", "—"
		if haveBare && !strings.HasPrefix(r.name, "bare") {
			d := r.cpuPerReq() - bare.cpuPerReq()
			added = "+" + us(d)
			ratio = fmt.Sprintf("%.2f×", float64(d)/float64(floor))
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %s | %s |\n", label(r.name),
			float64(r.reqs)/r.wall.Seconds(), ms(r.p50), ms(r.p99), us(r.cpuPerReq()), added, ratio)
	}
	mem, okM := byName["memory"]
	red, okR := byName["redis"]
	if okM && okR {
		fmt.Fprintf(&b, "\nRedis claim (redis − memory): %s CPU per request in the proxy process\n",
			us(red.cpuPerReq()-mem.cpuPerReq()))
	}
	return b.String()
}

func label(name string) string {
	switch name {
	case "bare":
		return "bare `httputil.ReverseProxy`"
	case "memory":
		return "`asymjwt proxy` (memory)"
	case "redis":
		return "`asymjwt proxy --redis`"
	case "memory-nolog":
		return "`asymjwt proxy --log-level warn` (memory)"
	}
	return name
}

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond)) }
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
