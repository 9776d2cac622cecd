package asymjwtprom_test

import (
	"context"
	"fmt"
	"strings"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtprom "github.com/asymjwt/asymjwt/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// A verifier whose outcomes are counted: one token accepted, then
// replayed.
func Example() {
	reg := prometheus.NewRegistry()
	m, err := asymjwtprom.New(asymjwtprom.WithRegisterer(reg))
	if err != nil {
		panic(err)
	}
	key, _ := asymjwt.GenerateKey(asymjwt.KindEd25519)
	keys := asymjwt.NewMemoryKeyStore()
	keys.Add("alice", key.Public())
	v, err := asymjwt.NewVerifier(keys,
		asymjwt.WithObserver(m.Observe),
		asymjwt.WithReplayStore(m.InstrumentReplayStore("memory", asymjwt.NewMemoryReplayStore())),
		asymjwt.WithLogger(discard))
	if err != nil {
		panic(err)
	}
	signer, _ := asymjwt.NewSigner("alice", key)
	token, _ := signer.Token()
	v.Verify(context.Background(), token)
	v.Verify(context.Background(), token)

	families, _ := reg.Gather()
	for _, f := range families {
		for _, s := range f.GetMetric() {
			if c := s.GetCounter(); c != nil && c.GetValue() > 0 {
				var labels []string
				for _, l := range s.GetLabel() {
					labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				}
				fmt.Printf("%s{%s} %v\n", f.GetName(), strings.Join(labels, ","), c.GetValue())
			}
		}
	}
	// Output:
	// asymjwt_requests_total{outcome="accepted"} 1
	// asymjwt_requests_total{outcome="replay"} 1
	// asymjwt_user_requests_total{username="alice"} 1
}
