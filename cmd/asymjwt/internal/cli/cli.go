package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// env is what a command reads from and writes to.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// lookupEnv reads the process environment (os.LookupEnv).
	lookupEnv func(string) (string, bool)
}

// command is one subcommand. run gets the arguments after the command
// name; it returns a usageError for bad invocations, flag.ErrHelp after
// printing help, any other error for a failure.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands are listed in the order the overview shows them.
var commands = []*command{
	{"keygen", "generate a key pair", runKeygen},
	{"pubkey", "print the public key of a key file", runPubkey},
	{"fingerprint", "print the kid of a key file", runFingerprint},
	{"sign", "make a token (or an Authorization header)", runSign},
	{"verify", "verify a token and print the identity", runVerify},
	{"inspect", "decode a token without verifying it", runInspect},
	{"jwks", "print a JWKS document for public keys", runJWKS},
	{"keys", "manage an authorized-keys directory or key database (add, list, remove, import, trust-jwks)", runKeys},
	{"migrate", "create or upgrade a key database's schema", runMigrate},
	{"request", "send a signed HTTP request", runRequest},
	{"proxy", "run an authenticating reverse proxy", runProxy},
	{"forward-auth", "verify tokens for a gateway (nginx, Traefik, Caddy, Envoy)", runForwardAuth},
	{"sign-proxy", "sign a local client's requests to an upstream", runSignProxy},
	{"version", "print the version and VCS revision of this build", runVersion},
}

// Run runs the asymjwt command line with args (without the program
// name) and returns the exit code: 0 on success, 1 on failure, 2 for a
// usage error. ctx ends long-running commands (proxy) as SIGINT and
// SIGTERM do.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv}
	if len(args) == 0 {
		writeOverview(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-version", "--version":
		name = "version"
	case "-h", "-help", "--help", "help":
		if len(rest) == 0 {
			writeOverview(stdout)
			return exitOK
		}
		// "help keys add" is "keys add -h".
		name, rest = rest[0], append(rest[1:len(rest):len(rest)], "-h")
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "asymjwt: unknown command %q\n\n", name)
		writeOverview(stderr)
		return exitUsage
	}
	return exitCode(stderr, cmd.name, cmd.run(ctx, e, rest))
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func writeOverview(w io.Writer) {
	fmt.Fprint(w, "asymjwt signs and verifies asymmetric-key JWTs for server-to-server calls.\n\n")
	fmt.Fprint(w, "Usage: asymjwt COMMAND [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'asymjwt COMMAND -h' for a command's flags and an example.\n")
	fmt.Fprint(w, envHelp)
}

// usageError is a bad invocation: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func exitCode(stderr io.Writer, name string, err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "asymjwt %s: %s\nRun 'asymjwt %s -h' for help.\n", name, ue.msg, name)
		return exitUsage
	}
	fmt.Fprintf(stderr, "asymjwt %s: %s\n", name, err)
	return exitError
}

// help describes a command for -h.
type help struct {
	usage   string // after "Usage: "
	text    string // what it does; may span lines
	example string // one or more command lines
}

// flagSet is a command's flags and its -h text.
type flagSet struct {
	*flag.FlagSet
	e    *env
	help help
}

// newFlagSet returns a flag set whose errors become usage errors and
// whose -h prints h with the flags.
func newFlagSet(e *env, name string, h help) *flagSet {
	fs := flag.NewFlagSet("asymjwt "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // parse prints the help for -h only, not on every error
	return &flagSet{FlagSet: fs, e: e, help: h}
}

func (fs *flagSet) printHelp() {
	w, h := fs.e.stdout, fs.help
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", h.usage, strings.TrimSpace(h.text))
	var flags strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		prefix := "--"
		if len(f.Name) == 1 {
			prefix = "-"
		}
		valueName, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&flags, "  %s%s", prefix, f.Name)
		if valueName != "" {
			fmt.Fprintf(&flags, " %s", valueName)
		}
		fmt.Fprintf(&flags, "\n        %s", usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0s" {
			fmt.Fprintf(&flags, " (default %s)", f.DefValue)
		}
		flags.WriteByte('\n')
	})
	if flags.Len() > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s", flags.String())
		fmt.Fprint(w, envHelp)
	}
	fmt.Fprintf(w, "\nExample:\n")
	for line := range strings.SplitSeq(strings.TrimSpace(h.example), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
}

// parse parses args, allowing flags after positional arguments
// ("verify TOKEN --json") until a "--". It returns the positional
// arguments. -h prints the help and returns flag.ErrHelp.
func parse(fs *flagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.printHelp()
				return nil, err
			}
			return nil, &usageError{msg: err.Error()}
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), fs.setFromEnv()
		}
		if len(rest) == 0 {
			return positional, fs.setFromEnv()
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// envPrefix starts the environment variable that sets a flag.
const envPrefix = "ASYMJWT_"

const envHelp = `
Every flag can also be set in the environment: ASYMJWT_ and the flag's
name in upper case with "-" as "_" (--tls-cert FILE: ASYMJWT_TLS_CERT=FILE).
A flag given on the command line wins; an empty variable counts as unset;
a repeatable flag takes a comma-separated list (ASYMJWT_AUD=orders,billing).
`

// envName is the environment variable of the flag name.
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// setFromEnv sets each flag not given on the command line from its
// environment variable (envName), when that is set and not empty. A
// repeatable flag (stringList) takes a comma-separated list.
func (fs *flagSet) setFromEnv() error {
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] || fs.e.lookupEnv == nil {
			return
		}
		name := envName(f.Name)
		value, _ := fs.e.lookupEnv(name)
		if value == "" {
			return
		}
		values := []string{value}
		if _, repeatable := f.Value.(*stringList); repeatable {
			values = values[:0]
			for v := range strings.SplitSeq(value, ",") {
				if v = strings.TrimSpace(v); v != "" {
					values = append(values, v)
				}
			}
		}
		for _, v := range values {
			if e := fs.Set(f.Name, v); e != nil {
				if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
					e = errors.New("want true or false") // flag's own says only "parse error"
				}
				err = usagef("invalid value %q for %s (--%s): %v", v, name, f.Name, e)
				return
			}
		}
	})
	return err
}

// stringList is a flag that may be repeated.
type stringList []string

func (l *stringList) String() string { return "[" + strings.Join(*l, ",") + "]" }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// flagWasSet reports whether the flag was given, even with an empty value.
func flagWasSet(fs *flagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
