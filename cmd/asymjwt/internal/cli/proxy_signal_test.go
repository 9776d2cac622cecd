//go:build unix

package cli_test

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGTERM (and SIGINT) stop the proxy gracefully, exit 0. Not parallel:
// the signal reaches the whole test process, so no other proxy may run.
func TestProxySignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			up := newUpstream(t)
			p, _ := launchProxy(t, "--upstream", up.URL, "--keys", keysDir(t))
			if p == nil {
				t.Fatal("proxy did not start")
			}
			defer p.stop()
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			select {
			case code := <-p.done:
				if code != 0 {
					t.Errorf("exit %d:\n%s", code, p.logs)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%v did not stop the proxy:\n%s", sig, p.logs)
			}
			if !strings.Contains(p.logs.String(), "asymjwt proxy: shutting down") {
				t.Errorf("logs:\n%s", p.logs)
			}
		})
	}
}
