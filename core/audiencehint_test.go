package asymjwt_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// A token with aud, refused by a verifier that has no audience: the reason
// names the setting that gives it one — WithAudience by default, the
// caller's own name for it with WithAudienceHint.
func TestAudienceHint(t *testing.T) {
	key, err := asymjwt.GenerateKey(asymjwt.KindEd25519)
	if err != nil {
		t.Fatal(err)
	}
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := keys.Add("billing", key.Public()); err != nil {
		t.Fatal(err)
	}
	s, err := asymjwt.NewSigner("billing", key, asymjwt.WithAudience("orders"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		opts      []asymjwt.VerifierOption
		want, not string
	}{
		{"default", nil, "(set one with WithAudience)", "--aud"},
		{"hint", []asymjwt.VerifierOption{asymjwt.WithAudienceHint("--aud")}, "(set one with --aud)", "WithAudience"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			token, err := s.Token()
			if err != nil {
				t.Fatal(err)
			}
			_, err = newTestVerifier(t, keys, tt.opts...).Verify(context.Background(), token)
			if !errors.Is(err, asymjwt.ErrAudience) {
				t.Fatalf("err = %v, want ErrAudience", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, tt.not) || !strings.Contains(msg, `"orders"`) {
				t.Fatalf("reason %q: want %q and the token's audience, not %q", msg, tt.want, tt.not)
			}
		})
	}
}
