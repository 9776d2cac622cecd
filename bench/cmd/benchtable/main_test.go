package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The command is main: these tests are internal, and drive run with -in
// so that no benchmark runs.

func TestRunFormatsSavedOutput(t *testing.T) {
	raw := filepath.Join(t.TempDir(), "raw.txt")
	var stdout, stderr strings.Builder
	if err := run([]string{"-in", "../../testdata/sample.txt", "-raw", raw}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v (stderr %q)", err, stderr.String())
	}
	for _, want := range []string{
		"- Command: `(saved output ../../testdata/sample.txt)`",
		"| asymjwt Verify | — | RS256 | 25,000 | 23,000 | 2,962 | 18 | 1.25× | 1.15× |",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	saved, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile("../../testdata/sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(saved) != string(orig) {
		t.Error("-raw did not keep the output as read")
	}
}

func TestRunRefuses(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(empty, []byte("PASS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-fast"}, "flag provided but not defined"},
		{"stray argument", []string{"-in", empty, "extra"}, "unexpected arguments"},
		{"missing input", []string{"-in", filepath.Join(t.TempDir(), "none.txt")}, "no such file"},
		{"input without results", []string{"-in", empty}, "no benchmark results"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := run(tt.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed a table on failure: %q", stdout.String())
			}
		})
	}
}

func TestTestArgs(t *testing.T) {
	got := strings.Join(quote(testArgs(".", "10000x")), " ")
	want := "test -run '^$' -bench . -benchmem -benchtime 10000x -count 1 -timeout 60m github.com/asymjwt/asymjwt/bench"
	if got != want {
		t.Errorf("command\n got %s\nwant %s", got, want)
	}
}

// A failing go test fails the command: no table from a broken run.
func TestRunFailsWithGoTest(t *testing.T) {
	var stdout, stderr strings.Builder
	err := run([]string{"-bench", "NoSuchBenchmark", "-benchtime", "bogus"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "go test") {
		t.Fatalf("error %v, want go test's failure", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("printed a table on failure: %q", stdout.String())
	}
}
