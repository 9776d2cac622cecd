package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "version", help{
		usage: "asymjwt version",
		text: `Prints the version of this build of asymjwt and the VCS revision it was
built from, as the Go toolchain recorded them in the binary (the same as
"go version -m"). "go install github.com/asymjwt/asymjwt/cmd/asymjwt@v0.1.0"
records v0.1.0 and no revision; a build in a git checkout records the
revision and "(devel)" or a pseudo-version. "asymjwt --version" is the same.`,
		example: "asymjwt version",
	})
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case len(rest) != 0:
		return usagef("version takes no arguments")
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	fmt.Fprint(e.stdout, formatVersion(info))
	return nil
}

// formatVersion describes a build from its build info (nil when the
// binary carries none): the main module's version, the VCS revision, the
// Go version and platform, one per line.
func formatVersion(info *debug.BuildInfo) string {
	if info == nil {
		return "asymjwt: unknown version (the binary carries no build information)\n"
	}
	var b strings.Builder
	switch v := info.Main.Version; v {
	case "", "(devel)":
		b.WriteString("asymjwt (devel): built from a source tree, not from a released module\n")
	default:
		fmt.Fprintf(&b, "asymjwt %s\n", v)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, "revision: %s", rev)
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, " (%s)", t)
		}
		if settings["vcs.modified"] == "true" {
			b.WriteString(" with uncommitted changes")
		}
		b.WriteByte('\n')
	} else {
		b.WriteString("revision: unknown (none recorded: installed from a module, or built with -buildvcs=false)\n")
	}
	goos, goarch := settings["GOOS"], settings["GOARCH"]
	if goos == "" || goarch == "" {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	fmt.Fprintf(&b, "go: %s %s/%s\n", info.GoVersion, goos, goarch)
	return b.String()
}
