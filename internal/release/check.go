package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// check runs `go build ./...` and `go mod tidy -diff` with GOWORK=off in
// every module: what a contributor without go.work, or a user of the
// published module, would build. A module that replaces its siblings builds
// in its folder. One that fetches them (cmd/asymjwt) is built as published:
// its module zip is unpacked in a temporary folder and tidied there against
// a file proxy of the working tree; its go.mod, and its go.sum apart from
// the siblings' hashes (which bump writes on the commit to tag), must come
// out unchanged.
func (r *Repo) check(version string, w io.Writer) error {
	var failed []string
	var tmp, proxyDir string
	defer func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	for _, m := range r.Modules {
		start := time.Now()
		var err error
		if len(r.unreplacedSiblings(m)) == 0 {
			dir := filepath.Join(r.Root, filepath.FromSlash(m.Dir))
			env := append(os.Environ(), "GOWORK=off")
			err = runGo(w, dir, env, "build", "./...")
			if err == nil {
				err = runGo(w, dir, env, "mod", "tidy", "-diff")
			}
		} else {
			if tmp == "" {
				if tmp, err = os.MkdirTemp("", "asymjwt-check-"); err != nil {
					return err
				}
				proxyDir = filepath.Join(tmp, "proxy")
				if err := r.buildProxy(proxyDir, version); err != nil {
					return err
				}
			}
			err = r.checkPublished(w, m, version, proxyDir, tmp)
		}
		if err != nil {
			fmt.Fprintf(w, "FAIL %s: %v\n", m.Dir, err)
			failed = append(failed, m.Dir)
			continue
		}
		fmt.Fprintf(w, "ok   GOWORK=off build and tidy: %-20s %.1fs\n", m.Dir, time.Since(start).Seconds())
	}
	if len(failed) > 0 {
		return fmt.Errorf("GOWORK=off build or tidy failed in %s", strings.Join(failed, ", "))
	}
	return nil
}

func (r *Repo) checkPublished(w io.Writer, m *Module, version, proxyDir, tmp string) error {
	src := filepath.Join(tmp, "src", filepath.FromSlash(m.Dir))
	zipFile := filepath.Join(tmp, strings.ReplaceAll(m.Dir, "/", "_")+".zip")
	if err := r.writeZip(m, version, zipFile); err != nil {
		return err
	}
	if err := zip.Unzip(src, module.Version{Path: m.Path, Version: version}, zipFile); err != nil {
		return err
	}
	origDir := filepath.Join(r.Root, filepath.FromSlash(m.Dir))
	origMod, err := os.ReadFile(filepath.Join(origDir, "go.mod"))
	if err != nil {
		return err
	}
	origSum, err := os.ReadFile(filepath.Join(origDir, "go.sum"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// Unpacked module files are read-only, as in the module cache.
	sumName := filepath.Join(src, "go.sum")
	os.Chmod(sumName, 0o644)
	os.Chmod(filepath.Join(src, "go.mod"), 0o644)
	if err := os.WriteFile(sumName, []byte(r.withoutSiblingSums(string(origSum))), 0o644); err != nil {
		return err
	}
	env, err := proxyEnv(proxyDir, filepath.Join(tmp, "modcache"))
	if err != nil {
		return err
	}
	if err := runGo(w, src, env, "mod", "tidy"); err != nil {
		return err
	}
	if err := runGo(w, src, env, "build", "./..."); err != nil {
		return err
	}
	gotMod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		return err
	}
	gotSum, err := os.ReadFile(sumName)
	if err != nil {
		return err
	}
	var problems []string
	if !bytes.Equal(gotMod, origMod) {
		problems = append(problems, "go.mod is not tidy:\n"+lineDiff(string(origMod), string(gotMod)))
	}
	if a, b := r.withoutSiblingSums(string(origSum)), r.withoutSiblingSums(string(gotSum)); a != b {
		problems = append(problems, "go.sum is not tidy:\n"+lineDiff(a, b))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	if !sameSiblingSums(r, string(origSum), string(gotSum)) {
		fmt.Fprintf(w, "note: %s/go.sum's hashes of its siblings are not those of the working tree; `make release VERSION=%s` rewrites them on the commit to tag\n", m.Dir, version)
	}
	return nil
}

// sameSiblingSums reports whether two go.sum texts hold the same lines for
// modules of the repository.
func sameSiblingSums(r *Repo, a, b string) bool {
	pick := func(s string) []string {
		var out []string
		for l := range strings.SplitSeq(s, "\n") {
			if f := strings.Fields(l); len(f) == 3 && r.byPath(f[0]) != nil {
				out = append(out, l)
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(pick(a), pick(b))
}

// lineDiff lists the lines only in want ("-") and only in got ("+").
func lineDiff(want, got string) string {
	ws, gs := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range ws {
		if !slices.Contains(gs, l) {
			fmt.Fprintf(&b, "\t-%s\n", l)
		}
	}
	for _, l := range gs {
		if !slices.Contains(ws, l) {
			fmt.Fprintf(&b, "\t+%s\n", l)
		}
	}
	return b.String()
}

// proxyEnv is the environment of a go command that sees only the public
// modules of proxyDir and the third-party modules already in this
// machine's module cache: no network, no checksum database, no go.work, a
// module cache of its own (so a stale copy of a sibling at the same version
// is never reused). The build cache is shared.
func proxyEnv(proxyDir, modcache string) ([]string, error) {
	return goEnv(proxyDir, modcache, false)
}

// goEnv is proxyEnv; with network, a third-party module missing from the
// module cache comes from this machine's GOPROXY and is checked against
// its GOSUMDB, as for any go command.
func goEnv(proxyDir, modcache string, network bool) ([]string, error) {
	out, err := exec.Command("go", "env", "GOMODCACHE", "GOPROXY").Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	vals := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(vals) != 2 {
		return nil, fmt.Errorf("go env GOMODCACHE GOPROXY printed %q", out)
	}
	download := filepath.Join(vals[0], "cache", "download")
	set := map[string]string{
		"GOWORK":      "off",
		"GOPROXY":     fileURL(proxyDir) + "," + fileURL(download),
		"GOMODCACHE":  modcache,
		"GOFLAGS":     "-mod=mod -modcacherw -trimpath",
		"GOSUMDB":     "off",
		"GONOSUMDB":   "",
		"GOPRIVATE":   "",
		"GONOPROXY":   "",
		"GOTOOLCHAIN": "local",
	}
	if network {
		set["GOPROXY"] += "," + vals[1]
		delete(set, "GOSUMDB")
		set["GONOSUMDB"] = "github.com/asymjwt/asymjwt"
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env, nil
}

func fileURL(dir string) string {
	return "file://" + filepath.ToSlash(dir)
}

// runGo runs the go command in dir; on failure its output goes to w.
func runGo(w io.Writer, dir string, env []string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.Write(out)
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// tidy runs go mod tidy in every module with GOWORK=off. A module that
// fetches its siblings (cmd/asymjwt) is tidied against a file proxy of the
// working tree; its go.sum lines for the siblings are left as they were
// (bump writes them).
func (r *Repo) tidy(version string, w io.Writer) error {
	var tmp, proxyDir string
	defer func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	for _, m := range r.Modules {
		fmt.Fprintf(w, "== go mod tidy %s\n", m.Dir)
		dir := filepath.Join(r.Root, filepath.FromSlash(m.Dir))
		if len(r.unreplacedSiblings(m)) == 0 {
			if err := runGo(w, dir, append(os.Environ(), "GOWORK=off"), "mod", "tidy"); err != nil {
				return err
			}
			continue
		}
		if tmp == "" {
			var err error
			if tmp, err = os.MkdirTemp("", "asymjwt-tidy-"); err != nil {
				return err
			}
			proxyDir = filepath.Join(tmp, "proxy")
			if err := r.buildProxy(proxyDir, version); err != nil {
				return err
			}
		}
		env, err := goEnv(proxyDir, filepath.Join(tmp, "modcache"), true)
		if err != nil {
			return err
		}
		sumName := filepath.Join(dir, "go.sum")
		orig, err := os.ReadFile(sumName)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		var siblings []string
		for l := range strings.SplitSeq(string(orig), "\n") {
			if f := strings.Fields(l); len(f) == 3 && r.byPath(f[0]) != nil {
				siblings = append(siblings, l)
			}
		}
		if err := os.WriteFile(sumName, []byte(r.withoutSiblingSums(string(orig))), 0o644); err != nil {
			return err
		}
		tidyErr := runGo(w, dir, env, "mod", "tidy")
		tidied, err := os.ReadFile(sumName)
		if err != nil {
			return err
		}
		if err := os.WriteFile(sumName, []byte(r.withSiblingSums(string(tidied), siblings)), 0o644); err != nil {
			return err
		}
		if tidyErr != nil {
			return tidyErr
		}
	}
	return nil
}
