package main

import (
	"strings"
	"testing"
)

func TestGRPCExample(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"hello alice", "message 3 for alice", "SERVING",
		"no credentials", "request does not match", "token replayed", "unknown key",
		"all 8 outcomes",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
