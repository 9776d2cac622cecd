package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
)

const usage = `usage: go run ./internal/release COMMAND
  bump VERSION  set every cross-module requirement to VERSION; print the tags to push
  tags          print the tags of the version the go.mod files name
  modules       list the modules of go.work and whether they are published
  proxy DIR     write a file proxy (GOPROXY=file://DIR) of the public modules, from the working tree
  check         GOWORK=off go build ./... and go mod tidy -diff in every module
  tidy          go mod tidy in every module
`

func main() {
	log.SetFlags(0)
	log.SetPrefix("release: ")
	if err := run(os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(args []string, w io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	root, err := findRoot()
	if err != nil {
		return err
	}
	r, err := loadRepo(root)
	if err != nil {
		return err
	}
	cmd, args := args[0], args[1:]
	want := map[string]int{"bump": 1, "tags": 0, "modules": 0, "proxy": 1, "check": 0, "tidy": 0}
	n, ok := want[cmd]
	if !ok {
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	if len(args) != n {
		return fmt.Errorf("%s takes %d argument(s)\n%s", cmd, n, usage)
	}
	switch cmd {
	case "bump":
		if err := r.bump(args[0], w); err != nil {
			return err
		}
		printTags(w, r.tags(args[0]))
		return nil
	case "modules":
		for _, m := range r.Modules {
			kind := "public"
			if !m.Public {
				kind = "unpublished"
			}
			fmt.Fprintf(w, "%-20s %-12s %s\n", m.Dir, kind, m.Path)
		}
		return nil
	}
	if err := r.commandsInstallable(); err != nil {
		return err
	}
	version, err := r.Version()
	if err != nil {
		return err
	}
	if err := r.workReplaces(version); err != nil {
		return err
	}
	switch cmd {
	case "tags":
		printTags(w, r.tags(version))
		return nil
	case "proxy":
		dir, err := filepath.Abs(args[0])
		if err != nil {
			return err
		}
		if err := r.buildProxy(dir, version); err != nil {
			return err
		}
		fmt.Fprintf(w, "GOPROXY=file://%s serves %d modules at %s\n", filepath.ToSlash(dir), len(r.Public()), version)
		return nil
	case "tidy":
		return r.tidy(version, w)
	default: // check
		return r.check(version, w)
	}
}

func printTags(w io.Writer, tags []string) {
	fmt.Fprintf(w, "\nCommit, then tag that commit and push the tags:\n\n")
	for _, t := range tags {
		fmt.Fprintf(w, "  git tag -a %s -m %s\n", t, t)
	}
	fmt.Fprintf(w, "  git push origin %s\n", strings.Join(tags, " "))
}
