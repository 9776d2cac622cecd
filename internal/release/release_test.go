package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixture writes a small repository: core, a library replacing core, a
// command fetching both, and the unpublished modules. edit changes its
// files before it is loaded; an empty text removes the file.
func fixture(t *testing.T, edit map[string]string) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"go.work":                  "go 1.26.0\n\nuse (\n\t./bench\n\t./cmd/tool\n\t./core\n\t./examples\n\t./internal/release\n\t./lib\n)\n",
		"core/go.mod":              "module example.com/r/core\n\ngo 1.26.0\n",
		"core/core.go":             "package core\n\nconst V = 1\n",
		"lib/go.mod":               "module example.com/r/lib\n\ngo 1.26.0\n\nrequire example.com/r/core v0.0.0\n\nreplace example.com/r/core => ../core\n",
		"lib/lib.go":               "package lib\n\nimport \"example.com/r/core\"\n\nconst V = core.V\n",
		"cmd/tool/go.mod":          "module example.com/r/cmd/tool\n\ngo 1.26.0\n\nrequire example.com/r/lib v0.0.0\n\nrequire example.com/r/core v0.0.0 // indirect\n",
		"cmd/tool/go.sum":          "example.org/other v1.0.0 h1:x=\nexample.org/other v1.0.0/go.mod h1:y=\n",
		"cmd/tool/main.go":         "// Command tool.\npackage main\n\nimport \"example.com/r/lib\"\n\nfunc main() { println(lib.V) }\n",
		"bench/go.mod":             "module example.com/r/bench\n\ngo 1.26.0\n\nrequire example.com/r/lib v0.0.0\n\nrequire example.com/r/core v0.0.0 // indirect\n\nreplace (\n\texample.com/r/core => ../core\n\texample.com/r/lib => ../lib\n)\n",
		"bench/bench.go":           "package bench\n\nimport _ \"example.com/r/lib\"\n",
		"examples/go.mod":          "module example.com/r/examples\n\ngo 1.26.0\n",
		"internal/release/go.mod":  "module example.com/r/internal/release\n\ngo 1.26.0\n",
		"core/testdata/mod/go.mod": "module ignored\n",
	}
	for name, data := range edit {
		files[name] = data
	}
	for name, data := range files {
		if data != "" {
			writeFile(t, filepath.Join(root, filepath.FromSlash(name)), data)
		}
	}
	return root
}

func TestLoadRepo(t *testing.T) {
	r, err := loadRepo(fixture(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range r.Modules {
		got = append(got, m.Dir+" "+m.Path+" "+map[bool]string{true: "public", false: "unpublished"}[m.Public]+" "+map[bool]string{true: "main", false: "lib"}[m.Main])
	}
	want := []string{
		"bench example.com/r/bench unpublished lib",
		"cmd/tool example.com/r/cmd/tool public main",
		"core example.com/r/core public lib",
		"examples example.com/r/examples unpublished lib",
		"internal/release example.com/r/internal/release unpublished lib",
		"lib example.com/r/lib public lib",
	}
	if !slices.Equal(got, want) {
		t.Errorf("modules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if v, err := r.Version(); v != "v0.0.0" || err != nil {
		t.Errorf("Version() = %q, %v", v, err)
	}
	if got, want := dirs(r.unreplacedSiblings(r.byDir("cmd/tool"))), "lib, core"; got != want {
		t.Errorf("cmd/tool fetches %s, want %s", got, want)
	}
	if got := dirs(r.unreplacedSiblings(r.byDir("lib"))); got != "" {
		t.Errorf("lib fetches %s, want nothing (it replaces core)", got)
	}
	if got, want := r.tags("v0.1.0"), []string{"cmd/tool/v0.1.0", "core/v0.1.0", "lib/v0.1.0"}; !slices.Equal(got, want) {
		t.Errorf("tags %v, want %v", got, want)
	}
}

func TestLoadRepoRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit map[string]string
		want string // in the error of loadRepo, or else of Version
	}{
		{"a go.mod missing from go.work", map[string]string{"extra/go.mod": "module example.com/r/extra\n"}, "extra/go.mod is not in go.work"},
		{"an unpublished folder missing from go.work", map[string]string{"go.work": "use (\n\t./bench\n\t./cmd/tool\n\t./core\n\t./examples\n\t./lib\n)\n", "internal/release/go.mod": ""}, "unpublished lists internal/release"},
		{"no module", map[string]string{"go.work": "go 1.26.0\n"}, "go.work uses no module"},
		{"a command with a replace", map[string]string{"cmd/tool/go.mod": "module example.com/r/cmd/tool\n\nrequire example.com/r/core v0.0.0\n\nreplace example.com/r/core => ../../core\n"}, "carries no replace"},
		{"a module outside the repository", map[string]string{"go.work": "use ../elsewhere\n"}, "a module must be a folder inside the repository"},
		{"siblings at two versions", map[string]string{"bench/go.mod": "module example.com/r/bench\n\nrequire example.com/r/lib v0.0.1\n\nreplace example.com/r/lib => ../lib\n"}, "different versions"},
		{"nothing required", map[string]string{"lib/go.mod": "module example.com/r/lib\n", "cmd/tool/go.mod": "module example.com/r/cmd/tool\n", "bench/go.mod": "module example.com/r/bench\n"}, "no version to release"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := loadRepo(fixture(t, tc.edit))
			if err == nil {
				err = r.commandsInstallable()
			}
			if err == nil {
				_, err = r.Version()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestBump(t *testing.T) {
	root := fixture(t, map[string]string{
		"cmd/tool/go.mod": "module example.com/r/cmd/tool\n\ngo 1.26.0\n\nrequire example.com/r/lib v0.0.0\n\nrequire example.com/r/core v0.0.0 // indirect\n\nreplace example.com/r/lib => ../../lib\n",
	})
	r, err := loadRepo(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.workReplaces("v0.0.0"); err == nil || !strings.Contains(err.Error(), "replace example.com/r/core v0.0.0 => ./core") {
		t.Fatalf("workReplaces before bump: %v", err)
	}
	if err := r.bump("v0.2", io.Discard); err == nil {
		t.Fatal("bump accepted v0.2")
	}
	var log strings.Builder
	if err := r.bump("v0.2.0", &log); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"updated bench/go.mod", "updated cmd/tool/go.mod", "updated lib/go.mod", "updated go.work", "updated cmd/tool/go.sum (hashes of lib, core)"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("bump's report lacks %q:\n%s", want, log.String())
		}
	}

	r, err = loadRepo(root) // as written
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r.Version(); v != "v0.2.0" || err != nil {
		t.Errorf("after bump, Version() = %q, %v", v, err)
	}
	if err := r.commandsInstallable(); err != nil {
		t.Errorf("after bump: %v", err)
	}
	if err := r.workReplaces("v0.2.0"); err != nil {
		t.Error(err)
	}
	if got := read(t, root, "lib/go.mod"); !strings.Contains(got, "require example.com/r/core v0.2.0\n") || !strings.Contains(got, "replace example.com/r/core => ../core") {
		t.Errorf("lib/go.mod:\n%s", got)
	}
	var want []string
	for _, dir := range []string{"core", "lib"} {
		lines, err := r.sumLines(r.byDir(dir), "v0.2.0")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, lines...)
	}
	want = append(want, "example.org/other v1.0.0 h1:x=", "example.org/other v1.0.0/go.mod h1:y=", "")
	if got := read(t, root, "cmd/tool/go.sum"); got != strings.Join(want, "\n") {
		t.Errorf("cmd/tool/go.sum:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}

	// Once done, bump changes nothing.
	log.Reset()
	if err := r.bump("v0.2.0", &log); err != nil || log.Len() != 0 {
		t.Errorf("second bump: %v, reported %q", err, log.String())
	}
}

// check passes on a tidy repository, fails when a command's go.mod is not
// tidy as published or a module does not build, and only notes stale
// sibling hashes.
func TestCheck(t *testing.T) {
	root := fixture(t, map[string]string{"cmd/tool/go.sum": ""})
	r, err := loadRepo(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.bump("v0.2.0", io.Discard); err != nil {
		t.Fatal(err)
	}
	check := func() (string, error) {
		r, err := loadRepo(root)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		err = r.check("v0.2.0", &out)
		return out.String(), err
	}
	if out, err := check(); err != nil || strings.Contains(out, "note:") {
		t.Fatalf("check after bump: %v\n%s", err, out)
	}

	writeFile(t, filepath.Join(root, "core", "core.go"), "package core\n\nconst V = 2\n")
	if out, err := check(); err != nil || !strings.Contains(out, "note: cmd/tool/go.sum's hashes of its siblings are not those of the working tree") {
		t.Errorf("check after a change to core: %v\n%s", err, out)
	}

	writeFile(t, filepath.Join(root, "cmd", "tool", "go.mod"), strings.Replace(read(t, root, "cmd/tool/go.mod"), " // indirect", "", 1))
	if out, err := check(); err == nil || !strings.Contains(out, "FAIL cmd/tool: go.mod is not tidy") {
		t.Errorf("check with an untidy cmd/tool/go.mod: %v\n%s", err, out)
	}

	writeFile(t, filepath.Join(root, "lib", "lib.go"), "package lib\n\nconst V = undefined\n")
	if out, err := check(); err == nil || !strings.Contains(out, "FAIL lib: go build ./...") {
		t.Errorf("check with a broken lib: %v\n%s", err, out)
	}
}

func TestCompareSumLines(t *testing.T) {
	lines := []string{
		"b.example v1.0.0 h1:z",
		"a.example v1.10.0/go.mod h1:d",
		"a.example v1.10.0 h1:c",
		"a.example v1.9.0/go.mod h1:b",
		"a.example v1.9.0 h1:a",
	}
	slices.SortFunc(lines, compareSumLines)
	want := []string{
		"a.example v1.9.0 h1:a",
		"a.example v1.9.0/go.mod h1:b",
		"a.example v1.10.0 h1:c",
		"a.example v1.10.0/go.mod h1:d",
		"b.example v1.0.0 h1:z",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("sorted:\n%s", strings.Join(lines, "\n"))
	}
}

// The repository itself: every go.mod is in go.work, one version is
// released, go.work serves the siblings a command fetches.
func TestThisRepo(t *testing.T) {
	r := thisRepo(t)
	version, err := r.Version()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.workReplaces(version); err != nil {
		t.Error(err)
	}
	if err := r.commandsInstallable(); err != nil {
		t.Error(err)
	}
	for _, dir := range []string{"core", "cmd/asymjwt"} {
		if m := r.byDir(dir); m == nil || !m.Public {
			t.Errorf("%s is not a public module", dir)
		}
	}
	if m := r.byDir("cmd/asymjwt"); m == nil || !m.Main {
		t.Error("cmd/asymjwt is not a command")
	}
}

func read(t *testing.T, root, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
