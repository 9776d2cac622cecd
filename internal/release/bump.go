package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// bump sets every requirement of a public sibling, in every go.mod of
// go.work, to version, and drops a command's replace lines for siblings
// (see commandsInstallable); then rewrites the siblings' go.sum lines of the
// modules that fetch siblings instead of replacing them (cmd/asymjwt) with
// the hashes of the working tree. It reports the files it changed to w.
func (r *Repo) bump(version string, w io.Writer) error {
	if !semver.IsValid(version) || semver.Canonical(version) != version {
		return fmt.Errorf("version %q: want a semantic version such as v0.1.0", version)
	}
	for _, m := range r.Modules {
		changed := false
		for _, req := range slices.Clone(m.file.Require) {
			dep := r.byPath(req.Mod.Path)
			if dep == nil || !dep.Public || req.Mod.Version == version {
				continue
			}
			if err := m.file.AddRequire(dep.Path, version); err != nil {
				return err
			}
			changed = true
		}
		if m.Main && m.Public {
			for _, rep := range slices.Clone(m.file.Replace) {
				if r.byPath(rep.Old.Path) != nil {
					if err := m.file.DropReplace(rep.Old.Path, rep.Old.Version); err != nil {
						return err
					}
					changed = true
				}
			}
		}
		if !changed {
			continue
		}
		m.file.Cleanup()
		data, err := m.file.Format()
		if err != nil {
			return err
		}
		name := filepath.Join(r.Root, filepath.FromSlash(m.Dir), "go.mod")
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "updated %s/go.mod\n", m.Dir)
	}
	if err := r.bumpWork(version, w); err != nil {
		return err
	}
	// The go.sum hashes below are of the go.mod files as just rewritten.
	for _, m := range r.Modules {
		sibs := r.unreplacedSiblings(m)
		if len(sibs) == 0 {
			continue
		}
		var lines []string
		for _, dep := range sibs {
			l, err := r.sumLines(dep, version)
			if err != nil {
				return err
			}
			lines = append(lines, l...)
		}
		name := filepath.Join(r.Root, filepath.FromSlash(m.Dir), "go.sum")
		old, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		updated := r.withSiblingSums(string(old), lines)
		if updated == string(old) {
			continue
		}
		if err := os.WriteFile(name, []byte(updated), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "updated %s/go.sum (hashes of %s)\n", m.Dir, dirs(sibs))
	}
	return nil
}

// bumpWork makes go.work replace at version, and at no other version, each
// module that workReplaces asks for.
func (r *Repo) bumpWork(version string, w io.Writer) error {
	if r.workReplaces(version) == nil {
		return nil
	}
	for _, rep := range slices.Clone(r.work.Replace) {
		if dep := r.byPath(rep.Old.Path); dep != nil && dep.Public {
			if err := r.work.DropReplace(rep.Old.Path, rep.Old.Version); err != nil {
				return err
			}
		}
	}
	for _, m := range r.fetchedSiblings() {
		if err := r.work.AddReplace(m.Path, version, "./"+m.Dir, ""); err != nil {
			return err
		}
	}
	r.work.Cleanup()
	r.work.SortBlocks()
	if err := os.WriteFile(filepath.Join(r.Root, "go.work"), modfile.Format(r.work.Syntax), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(w, "updated go.work (replace lines)")
	return nil
}

// withSiblingSums returns the go.sum text sum with its lines for modules of
// the repository replaced by lines, ordered as the go command orders them.
func (r *Repo) withSiblingSums(sum string, lines []string) string {
	out := slices.Clone(lines)
	for l := range strings.SplitSeq(sum, "\n") {
		if f := strings.Fields(l); len(f) == 3 && r.byPath(f[0]) == nil {
			out = append(out, l)
		}
	}
	slices.SortStableFunc(out, compareSumLines)
	out = slices.Compact(out)
	return strings.Join(out, "\n") + "\n"
}

// withoutSiblingSums returns sum without its lines for modules of the
// repository.
func (r *Repo) withoutSiblingSums(sum string) string {
	return r.withSiblingSums(sum, nil)
}

// compareSumLines orders go.sum lines as module.Sort does: by module path,
// then by semantic version, "/go.mod" after the zip hash.
func compareSumLines(a, b string) int {
	af, bf := strings.Fields(a), strings.Fields(b)
	if c := strings.Compare(af[0], bf[0]); c != 0 {
		return c
	}
	av, _, _ := strings.Cut(af[1], "/")
	bv, _, _ := strings.Cut(bf[1], "/")
	if c := semver.Compare(av, bv); c != 0 {
		return c
	}
	return strings.Compare(af[1], bf[1])
}

// tags returns the tags that publish the public modules at version:
// the module's folder, a slash, the version.
func (r *Repo) tags(version string) []string {
	var tags []string
	for _, m := range r.Public() {
		tags = append(tags, m.TagPrefix()+version)
	}
	return tags
}

func dirs(mods []*Module) string {
	var names []string
	for _, m := range mods {
		names = append(names, m.Dir)
	}
	return strings.Join(names, ", ")
}
