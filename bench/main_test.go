package bench_test

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain silences asymjwt's refusal logs (slog.Default): the tests
// provoke hundreds of refusals on purpose.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
