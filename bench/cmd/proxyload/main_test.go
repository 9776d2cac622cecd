package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets the test binary play the bare proxy's child process, as
// the proxyload binary does.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "-serve-bare" {
		if err := serveBare(os.Args[2]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// TestSmoke runs every case at a tiny request count: the tool works end
// to end (each request got 200 "ok" through each proxy) and reports a
// row per case. The numbers are not checked: a smoke test measures
// nothing.
func TestSmoke(t *testing.T) {
	cases := "bare,memory,redis,memory-nolog"
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is not installed and CI=true; run scripts/ensure-test-servers.sh: %v", err)
		}
		t.Logf("redis-server is not installed; the redis case is skipped (scripts/ensure-test-servers.sh installs it)")
		cases = "bare,memory,memory-nolog"
	}
	out, err := run(context.Background(), config{n: 40, c: 4, cases: cases, redisServer: "redis-server"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Split(cases, ",") {
		if !strings.Contains(out, "| "+label(name)+" |") {
			t.Errorf("no row for %s in:\n%s", name, out)
		}
	}
	if strings.Contains(cases, "redis") && !strings.Contains(out, "Redis claim") {
		t.Errorf("no Redis claim line in:\n%s", out)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	for _, cfg := range []config{
		{n: 0, c: 1, cases: "bare"},
		{n: 1, c: 0, cases: "bare"},
		{n: 1, c: 1, cases: "bare,nginx"},
	} {
		if _, err := run(context.Background(), cfg, io.Discard); err == nil {
			t.Errorf("run(%+v) = nil error", cfg)
		}
	}
}
