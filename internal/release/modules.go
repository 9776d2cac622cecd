package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
)

// unpublished are the folders of go.work modules that are never tagged:
// runnable examples, the benchmarks against peer libraries (their
// dependencies must not reach users) and this tool. Every other module of
// go.work is public, so a new module is released once it is in go.work.
var unpublished = []string{"bench", "examples", "internal/release"}

// Module is one module of go.work.
type Module struct {
	Dir    string // slash-separated folder relative to the repository root: "core", "cmd/asymjwt"
	Path   string // module path: "github.com/asymjwt/asymjwt/core"
	Public bool   // tagged and published; false for the folders in unpublished
	Main   bool   // its root folder is a main package (a command to go install)

	file *modfile.File
}

// TagPrefix is the prefix of the module's tags: "core/" for core/v0.1.0.
func (m *Module) TagPrefix() string { return m.Dir + "/" }

// Repo is the repository: its root folder and the modules of its go.work.
type Repo struct {
	Root    string
	Modules []*Module // in go.work's order

	work *modfile.WorkFile
}

// findRoot returns the nearest folder, from the working directory up, that
// holds a go.work.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work in the working directory or above it")
		}
		dir = parent
	}
}

// loadRepo reads go.work under root and the go.mod of each module it uses.
// It fails when a go.mod in the tree is missing from go.work (it would be
// neither tested nor released) or when unpublished names a folder that is
// not a module of go.work.
func loadRepo(root string) (*Repo, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		return nil, err
	}
	work, err := modfile.ParseWork("go.work", data, nil)
	if err != nil {
		return nil, err
	}
	r := &Repo{Root: root, work: work}
	for _, u := range work.Use {
		dir := path.Clean(filepath.ToSlash(u.Path))
		if dir == "." || strings.HasPrefix(dir, "../") || path.IsAbs(dir) {
			return nil, fmt.Errorf("go.work: use %s: a module must be a folder inside the repository", u.Path)
		}
		m, err := loadModule(root, dir)
		if err != nil {
			return nil, err
		}
		r.Modules = append(r.Modules, m)
	}
	if len(r.Modules) == 0 {
		return nil, errors.New("go.work uses no module")
	}
	for _, dir := range unpublished {
		if r.byDir(dir) == nil {
			return nil, fmt.Errorf("unpublished lists %s, which is not a module of go.work", dir)
		}
	}
	inTree, err := goModDirs(root)
	if err != nil {
		return nil, err
	}
	for _, dir := range inTree {
		if r.byDir(dir) == nil {
			return nil, fmt.Errorf("%s/go.mod is not in go.work: add it to the use list (and to unpublished if it is not to be released)", dir)
		}
	}
	return r, nil
}

func loadModule(root, dir string) (*Module, error) {
	name := filepath.Join(root, filepath.FromSlash(dir), "go.mod")
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	f, err := modfile.Parse(name, data, nil)
	if err != nil {
		return nil, err
	}
	if f.Module == nil {
		return nil, fmt.Errorf("%s: no module line", name)
	}
	isMain, err := isMainPackage(filepath.Join(root, filepath.FromSlash(dir)))
	if err != nil {
		return nil, err
	}
	return &Module{
		Dir:    dir,
		Path:   f.Module.Mod.Path,
		Public: !slices.Contains(unpublished, dir),
		Main:   isMain,
		file:   f,
	}, nil
}

// isMainPackage reports whether the non-test Go files in dir are package main.
func isMainPackage(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return false, err
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if name, ok := strings.CutPrefix(strings.TrimSpace(line), "package "); ok {
				return strings.TrimSpace(name) == "main", nil
			}
		}
	}
	return false, nil
}

// goModDirs lists the folders under root holding a go.mod, skipping
// testdata, vendor and hidden folders (the go command ignores them too).
func goModDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root {
			n := d.Name()
			if n == "testdata" || n == "vendor" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "go.mod" && !d.IsDir() {
			rel, err := filepath.Rel(root, filepath.Dir(p))
			if err != nil {
				return err
			}
			if rel != "." {
				dirs = append(dirs, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	return dirs, err
}

func (r *Repo) byDir(dir string) *Module {
	for _, m := range r.Modules {
		if m.Dir == dir {
			return m
		}
	}
	return nil
}

func (r *Repo) byPath(p string) *Module {
	for _, m := range r.Modules {
		if m.Path == p {
			return m
		}
	}
	return nil
}

// Public returns the modules to be tagged, in go.work's order.
func (r *Repo) Public() []*Module {
	var pub []*Module
	for _, m := range r.Modules {
		if m.Public {
			pub = append(pub, m)
		}
	}
	return pub
}

// Version returns the version of the release: the one at which the go.mod
// files require the public modules. It fails unless they all name the same
// valid semantic version.
func (r *Repo) Version() (string, error) {
	seen := map[string][]string{} // version -> "gin requires core"
	for _, m := range r.Modules {
		for _, req := range m.file.Require {
			if dep := r.byPath(req.Mod.Path); dep != nil && dep.Public {
				v := req.Mod.Version
				seen[v] = append(seen[v], m.Dir+" requires "+dep.Dir)
			}
		}
	}
	switch len(seen) {
	case 0:
		return "", errors.New("no module requires a public sibling: no version to release")
	case 1: // modfile.Parse has checked that it is a semantic version
		for v := range seen {
			return v, nil
		}
	}
	var lines []string
	for v, who := range seen {
		lines = append(lines, fmt.Sprintf("%s: %s", v, strings.Join(who, ", ")))
	}
	slices.Sort(lines)
	return "", fmt.Errorf("siblings are required at different versions; run `make release VERSION=…`:\n\t%s", strings.Join(lines, "\n\t"))
}

// replaced reports whether m's go.mod replaces the module path p.
func (m *Module) replaced(p string) bool {
	for _, rep := range m.file.Replace {
		if rep.Old.Path == p {
			return true
		}
	}
	return false
}

// unreplacedSiblings returns the public siblings m needs, directly or
// through other siblings, that m does not replace with their folder: with
// GOWORK=off they come from a module proxy at the version required, and
// m's go.sum carries their hashes. For a library module with a replace
// line per sibling this is empty.
func (r *Repo) unreplacedSiblings(m *Module) []*Module {
	var out []*Module
	seen := map[string]bool{}
	var walk func(from *Module)
	walk = func(from *Module) {
		for _, req := range from.file.Require {
			dep := r.byPath(req.Mod.Path)
			if dep == nil || seen[dep.Path] {
				continue
			}
			seen[dep.Path] = true
			if !m.replaced(dep.Path) { // a replaced one is built from its folder
				out = append(out, dep)
			}
			walk(dep)
		}
	}
	walk(m)
	return out
}

// commandsInstallable checks that no public module with a main package
// has replace or exclude lines: `go install path@version` refuses such a
// module. (It builds in the repository through go.work; bump drops its
// replace lines for siblings.)
func (r *Repo) commandsInstallable() error {
	for _, m := range r.Public() {
		if m.Main && (len(m.file.Replace) > 0 || len(m.file.Exclude) > 0) {
			return fmt.Errorf("%s/go.mod: a module with a main package carries no replace or exclude lines: `go install %s@version` refuses it (`make release` drops the replace lines for siblings)", m.Dir, m.Path)
		}
	}
	return nil
}

// workReplaces checks that go.work replaces at version, with its folder,
// every public module that a go.mod requires without replacing it. A go.mod without a replace for a sibling (cmd/asymjwt)
// would otherwise make the workspace read that sibling's go.mod from a
// module proxy: a workspace module stands in for its path in the build, but
// the requirement graph is read at the version required.
func (r *Repo) workReplaces(version string) error {
	var missing []string
	for _, m := range r.fetchedSiblings() {
		ok := false
		for _, rep := range r.work.Replace {
			if rep.Old.Path == m.Path && rep.Old.Version == version && path.Clean(rep.New.Path) == m.Dir && rep.New.Version == "" {
				ok = true
			}
		}
		if !ok {
			missing = append(missing, fmt.Sprintf("replace %s %s => ./%s", m.Path, version, m.Dir))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("go.work lacks (`make release VERSION=%s` writes them):\n\t%s", version, strings.Join(missing, "\n\t"))
	}
	return nil
}

// fetchedSiblings returns the public modules that some module requires,
// directly or not, without replacing them: those a GOWORK=off build takes
// from a module proxy.
func (r *Repo) fetchedSiblings() []*Module {
	var out []*Module
	for _, m := range r.Modules {
		for _, dep := range r.unreplacedSiblings(m) {
			if !slices.Contains(out, dep) {
				out = append(out, dep)
			}
		}
	}
	return out
}
