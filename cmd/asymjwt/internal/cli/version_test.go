package cli_test

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/cli"
)

func TestFormatVersion(t *testing.T) {
	platform := " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-11-30T12:00:00Z"},
	}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{{
		name: "go install @v0.1.0: a version, no revision",
		info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/asymjwt/asymjwt/cmd/asymjwt", Version: "v0.1.0"},
			Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"}}},
		want: "asymjwt v0.1.0\n" +
			"revision: unknown (none recorded: installed from a module, or built with -buildvcs=false)\n" +
			"go: go1.26.8 linux/arm64\n",
	}, {
		name: "a checkout: (devel) and the revision",
		info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
		want: "asymjwt (devel): built from a source tree, not from a released module\n" +
			"revision: 0123456789abcdef0123456789abcdef01234567 (2026-11-30T12:00:00Z)\n" +
			"go: go1.26.8" + platform,
	}, {
		name: "a modified checkout with a pseudo-version",
		info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.1.1-0.20261130120000-0123456789ab+dirty"},
			Settings: append(vcs, debug.BuildSetting{Key: "vcs.modified", Value: "true"})},
		want: "asymjwt v0.1.1-0.20261130120000-0123456789ab+dirty\n" +
			"revision: 0123456789abcdef0123456789abcdef01234567 (2026-11-30T12:00:00Z) with uncommitted changes\n" +
			"go: go1.26.8" + platform,
	}, {
		name: "no version at all",
		info: &debug.BuildInfo{GoVersion: "go1.26.8"},
		want: "asymjwt (devel): built from a source tree, not from a released module\n" +
			"revision: unknown (none recorded: installed from a module, or built with -buildvcs=false)\n" +
			"go: go1.26.8" + platform,
	}, {
		name: "no build info",
		want: "asymjwt: unknown version (the binary carries no build information)\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cli.FormatVersion(tc.info); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// "version" and "--version" print this test binary's build info; extra
// arguments are a usage error.
func TestVersionCommand(t *testing.T) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("test binary without build info")
	}
	want := cli.FormatVersion(info)
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		r := run(t, "", args...)
		if r.code != 0 || r.stderr != "" || r.stdout != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want stdout %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
	if !strings.HasPrefix(want, "asymjwt ") || !strings.Contains(want, "\ngo: "+runtime.Version()) {
		t.Errorf("version output %q", want)
	}
	wantFail(t, run(t, "", "version", "extra"), 2, "version takes no arguments")
	wantFail(t, run(t, "", "--version", "--bogus"), 2, "flag provided but not defined")
}
