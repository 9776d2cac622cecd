package cli_test

import (
	"strings"
	"testing"
)

var commandNames = []string{"keygen", "pubkey", "fingerprint", "sign", "verify", "inspect", "jwks", "keys", "request", "proxy", "forward-auth", "sign-proxy"}

func TestOverview(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		r := run(t, "", args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		golden(t, "overview.txt", r.stdout)
	}
	// Without a command: the overview on stderr, exit 2.
	r := run(t, "")
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "Usage: asymjwt COMMAND") {
		t.Fatalf("no args: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	wantFail(t, run(t, "", "frobnicate"), 2, `unknown command "frobnicate"`)
	wantFail(t, run(t, "", "help", "frobnicate"), 2, `unknown command "frobnicate"`)
}

// Every command has -h help with an example, on stdout with exit 0;
// "asymjwt help CMD" prints the same.
func TestCommandHelp(t *testing.T) {
	for _, name := range append(commandNames, "keys add", "keys list", "keys remove") {
		t.Run(name, func(t *testing.T) {
			args := append(strings.Fields(name), "-h")
			r := run(t, "", args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			for _, want := range []string{"Usage: asymjwt " + name, "\nExample:\n  "} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("help lacks %q:\n%s", want, r.stdout)
				}
			}
			golden(t, "help-"+strings.ReplaceAll(name, " ", "-")+".txt", r.stdout)
			if !strings.Contains(name, " ") {
				if again := run(t, "", "help", name); again.stdout != r.stdout || again.code != 0 {
					t.Errorf("help %s differs from %s -h", name, name)
				}
			}
		})
	}
}

// Long flags work with one dash or two, before or after the arguments.
func TestFlagSpellings(t *testing.T) {
	want := mustRun(t, "", "fingerprint", fixture("keys/ed25519.pem.pub"))
	for _, args := range [][]string{
		{"pubkey", "--key", fixture("keys/ed25519.pem")},
		{"pubkey", "-key", fixture("keys/ed25519.pem")},
		{"pubkey", "--key=" + fixture("keys/ed25519.pem")},
	} {
		pub := mustRun(t, "", args...)
		if got := mustRun(t, pub, "fingerprint", "-"); got != want {
			t.Errorf("%v: kid %q, want %q", args, got, want)
		}
	}
	tok := strings.TrimSpace(mustRun(t, "", "sign", "--key", fixture("keys/ed25519.pem"), "--user", "billing"))
	out := mustRun(t, "", "verify", tok, "--pub", fixture("keys/ed25519.pem.pub"), "-json")
	if !strings.Contains(out, `"username": "billing"`) {
		t.Errorf("flags after the token were not parsed: %s", out)
	}
	// After "--" everything is an argument.
	wantFail(t, run(t, "", "fingerprint", "--", "--passphrase-file"), 1, "--passphrase-file")
}

// Bad invocations exit 2 with the reason and a pointer to -h on stderr.
func TestUsageErrors(t *testing.T) {
	key := fixture("keys/ed25519.pem")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"keygen"}, "--out is required"},
		{[]string{"keygen", "--out", "x", "--type", "dsa"}, "--type must be one of"},
		{[]string{"keygen", "--out", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"keygen", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"pubkey"}, "--key is required"},
		{[]string{"pubkey", "--key", key, "--format", "der"}, "--format must be pem, openssh or jwk"},
		{[]string{"pubkey", "--key", key, "extra"}, `unexpected argument "extra"`},
		{[]string{"fingerprint"}, "want exactly one key file"},
		{[]string{"fingerprint", key, key}, "want exactly one key file"},
		{[]string{"sign", "--key", key}, "--key and --user are required"},
		{[]string{"sign", "--user", "u"}, "--key and --user are required"},
		{[]string{"sign", "--key", key, "--user", "u", "--method", "POST"}, "--method, --body and --bind need --url"},
		{[]string{"sign", "--key", key, "--user", "u", "--body", "f"}, "--method, --body and --bind need --url"},
		{[]string{"sign", "--key", key, "--user", "u", "--bind", "request"}, "--method, --body and --bind need --url"},
		{[]string{"sign", "--key", key, "--user", "u", "--url", "/x", "--bind", "all"}, "--bind must be body or request"},
		{[]string{"sign", "--key", key, "--user", "u", "--url", "/x", "--bind", "request", "--body", "f"}, "--bind request binds no body"},
		{[]string{"sign", "--key", "-", "--user", "u", "--url", "/", "--body", "-"}, "cannot both read stdin"},
		{[]string{"sign", "--key", key, "--user", "u", "--url", "http://[::1"}, "--url:"},
		{[]string{"sign", "--key", key, "--user", "u", "extra"}, `unexpected argument "extra"`},
		{[]string{"verify", "--pub", key}, "want exactly one TOKEN"},
		{[]string{"verify", "t"}, "give exactly one of --pub, --keys (and/or --keys-db) and --jwks"},
		{[]string{"verify", "--pub", key, "--keys", "d", "t"}, "give exactly one of --pub, --keys (and/or --keys-db) and --jwks"},
		{[]string{"verify", "--jwks", "http://127.0.0.1/jwks", "t"}, "--jwks needs --user"},
		{[]string{"verify", "--pub", key, "--method", "GET", "t"}, "--method and --body need --url"},
		{[]string{"verify", "--pub", "-", "-"}, "only one input can be read from stdin"},
		{[]string{"verify", "--pub", key, "--tolerance", "0s", "t"}, "tolerance must be"},
		{[]string{"inspect"}, "want exactly one TOKEN"},
		{[]string{"inspect", "a", "b"}, "want exactly one TOKEN"},
		{[]string{"jwks"}, "want at least one key file"},
		{[]string{"request", "--key", key, "--user", "u"}, "want exactly one URL"},
		{[]string{"request", "--user", "u", "http://127.0.0.1/"}, "--key and --user are required"},
		{[]string{"request", "--key", "-", "--user", "u", "http://127.0.0.1/"}, "--key cannot read stdin"},
		{[]string{"request", "--key", key, "--user", "u", "/relative"}, "absolute http or https URL"},
		{[]string{"request", "--key", key, "--user", "u", "ftp://127.0.0.1/"}, "absolute http or https URL"},
		{[]string{"request", "--key", key, "--user", "u", "-H", "no colon", "http://127.0.0.1/"}, "want 'Name: value'"},
		{[]string{"request", "--key", key, "--user", "u", "-X", "BAD METHOD", "http://127.0.0.1/"}, "invalid method"},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1", "--keys", "d"}, "--listen, --upstream and --keys (or --keys-db) are required"},
		{[]string{"proxy", "--listen", ":0", "--upstream", "ftp://x", "--keys", "d"}, "--upstream must be an absolute http or https URL"},
		{[]string{"proxy", "--listen", ":0", "--upstream", "http://x", "--keys", "d", "--strict"}, "--strict needs --aud"},
		{[]string{"proxy", "--listen", ":0", "--upstream", "http://x", "--keys", "d", "--tls-cert", "c"}, "--tls-cert and --tls-key go together"},
		{[]string{"proxy", "--listen", ":0", "--upstream", "http://x", "--keys", "d", "--log-format", "xml"}, "--log-format must be text or json"},
		{[]string{"proxy", "--listen", ":0", "--upstream", "http://x", "--keys", "d", "--log-level", "loud"}, "--log-level must be"},
		{[]string{"proxy", "--listen", ":0", "--upstream", "http://x", "--keys", "d", "--user-header", "X User"}, "is not a header name"},
		{[]string{"proxy", "--listen", ":0", "--upstream", "http://x", "--keys", "d", "--health-path", "healthz"}, "--health-path must start with /"},
		{[]string{"proxy", "--listen", ":0", "--upstream", "http://x", "--keys", "d", "--insecure-redis-unchecked-policy"}, "goes with --redis"},
		{[]string{"proxy", "--listen", ":0", "--upstream", "http://x", "--keys", "d", "--redis-retention", "41s"}, "--redis-retention goes with --redis"},
		{[]string{"forward-auth", "--listen", ":0", "--keys", "d", "--redis-retention", "1m"}, "--redis-retention goes with --redis"},
		{[]string{"proxy", "--listen", ":0", "--upstream", "http://x", "--keys", "d", "--redis", "mysql://x"}, "--redis:"},
		{[]string{"proxy", "--listen", ":0", "--upstream", "http://x", "--keys", "d", "extra"}, `unexpected argument "extra"`},
		{[]string{"keys"}, "want a subcommand: add, list, remove, import or trust-jwks"},
		{[]string{"keys", "rotate"}, `unknown subcommand "rotate"`},
		{[]string{"keys", "add", "--user", "u", key}, "give one of --dir and --db"},
		{[]string{"keys", "add", "--dir", "d", key}, "--user is required"},
		{[]string{"keys", "add", "--dir", "d", "--user", "u"}, "want exactly one key file"},
		{[]string{"keys", "list"}, "give one of --dir and --db"},
		{[]string{"keys", "remove", "--dir", "d", "kid"}, "--user is required"},
		{[]string{"keys", "remove", "--dir", "d", "--user", "u"}, "want exactly one KID"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := run(t, "", tt.args...)
			wantFail(t, r, 2, tt.want)
			if !strings.Contains(r.stderr, "-h' for help") {
				t.Errorf("stderr lacks the pointer to -h: %q", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty: %q", r.stdout)
			}
		})
	}
}
