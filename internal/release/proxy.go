package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/zip"
)

// writeZip writes the module zip of m at version to name, from m's folder
// in the working tree. zip.CreateFromDir leaves out what the go command
// leaves out: nested modules, vendor folders, VCS folders, symlinks.
func (r *Repo) writeZip(m *Module, version, name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	dir := filepath.Join(r.Root, filepath.FromSlash(m.Dir))
	err = zip.CreateFromDir(f, module.Version{Path: m.Path, Version: version}, dir)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// buildProxy writes, under dir, a module proxy (the layout GOPROXY=file://dir
// reads: <path>/@v/list, .info, .mod, .zip) serving every public module at
// version, from the working tree.
func (r *Repo) buildProxy(dir, version string) error {
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	for _, m := range r.Public() {
		esc, err := module.EscapePath(m.Path)
		if err != nil {
			return err
		}
		vdir := filepath.Join(dir, filepath.FromSlash(esc), "@v")
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			return err
		}
		gomod, err := os.ReadFile(filepath.Join(r.Root, filepath.FromSlash(m.Dir), "go.mod"))
		if err != nil {
			return err
		}
		files := map[string][]byte{
			"list":            []byte(version + "\n"),
			version + ".info": info,
			version + ".mod":  gomod,
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(vdir, name), data, 0o644); err != nil {
				return err
			}
		}
		if err := r.writeZip(m, version, filepath.Join(vdir, version+".zip")); err != nil {
			return err
		}
	}
	return nil
}

// sumLines returns the two go.sum lines of m at version, as the working tree
// would be published: the hash of the module zip and of its go.mod.
func (r *Repo) sumLines(m *Module, version string) ([]string, error) {
	tmp, err := os.MkdirTemp("", "asymjwt-release-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	name := filepath.Join(tmp, "m.zip")
	if err := r.writeZip(m, version, name); err != nil {
		return nil, err
	}
	zipHash, err := dirhash.HashZip(name, dirhash.Hash1)
	if err != nil {
		return nil, err
	}
	gomod, err := os.ReadFile(filepath.Join(r.Root, filepath.FromSlash(m.Dir), "go.mod"))
	if err != nil {
		return nil, err
	}
	modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gomod)), nil
	})
	if err != nil {
		return nil, err
	}
	return []string{
		fmt.Sprintf("%s %s %s", m.Path, version, zipHash),
		fmt.Sprintf("%s %s/go.mod %s", m.Path, version, modHash),
	}, nil
}
