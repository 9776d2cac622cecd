package asymjwt_test

import (
	"encoding/pem"
	"log/slog"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func newTestVerifier(t testing.TB, keys asymjwt.KeyStore, opts ...asymjwt.VerifierOption) *asymjwt.Verifier {
	t.Helper()
	opts = append([]asymjwt.VerifierOption{asymjwt.WithLogger(discardLogger)}, opts...)
	v, err := asymjwt.NewVerifier(keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var discardLogger = slog.New(slog.DiscardHandler)
