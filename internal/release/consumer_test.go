package main

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A user outside the repository, with GOWORK=off and no replace lines,
// installs every public module and the CLI at the version the go.mod files
// name. The modules come from a file proxy built from the working tree,
// third-party modules from this machine's module cache, and nothing from
// the network (GOPROXY has no network entry, GOSUMDB=off).
func TestConsumerInstallsEveryPublicModule(t *testing.T) {
	r := thisRepo(t)
	version, err := r.Version()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	proxyDir := filepath.Join(tmp, "proxy")
	if err := r.buildProxy(proxyDir, version); err != nil {
		t.Fatal(err)
	}
	env, err := proxyEnv(proxyDir, filepath.Join(tmp, "modcache"))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "bin")
	env = append(env, "GOBIN="+bin)

	consumer := filepath.Join(tmp, "consumer")
	writeFile(t, filepath.Join(consumer, "go.mod"), "module example.com/consumer\n\ngo 1.26.0\n")
	var get, libs []string
	var mains []*Module
	for _, m := range r.Public() {
		get = append(get, m.Path+"@"+version)
		if m.Main {
			mains = append(mains, m)
		} else {
			libs = append(libs, m.Path)
		}
	}
	if len(libs) == 0 || len(mains) == 0 {
		t.Fatalf("public libraries %v, commands %v: want both", libs, mains)
	}
	goCmd(t, consumer, env, append([]string{"get"}, get...)...)

	// A program importing every public library; it prints the modules of
	// the repository it was built with, from its build info.
	var src strings.Builder
	src.WriteString("package main\n\nimport (\n\t\"fmt\"\n\t\"runtime/debug\"\n\t\"strings\"\n\n")
	for _, p := range libs {
		fmt.Fprintf(&src, "\t_ %q\n", p)
	}
	src.WriteString(`)

func main() {
	info, _ := debug.ReadBuildInfo()
	for _, d := range info.Deps {
		if strings.HasPrefix(d.Path, "github.com/asymjwt/asymjwt/") {
			fmt.Println(d.Path, d.Version, d.Replace != nil)
		}
	}
}
`)
	writeFile(t, filepath.Join(consumer, "main.go"), src.String())
	exe := filepath.Join(tmp, "consumer.bin")
	goCmd(t, consumer, env, "build", "-o", exe, ".")
	out := runBin(t, exe)
	for _, p := range libs {
		if want := p + " " + version + " false"; !slices.Contains(strings.Split(out, "\n"), want) {
			t.Errorf("consumer built without %q; its build info:\n%s", want, out)
		}
	}

	// The go command's hashes of the served modules are those bump writes.
	gosum, err := os.ReadFile(filepath.Join(consumer, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range r.Public() {
		lines, err := r.sumLines(m, version)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if !m.Main && !slices.Contains(strings.Split(string(gosum), "\n"), l) {
				t.Errorf("consumer's go.sum lacks %q", l)
			}
		}
	}

	// go install path@version of each command, then its version command.
	for _, m := range mains {
		goCmd(t, tmp, env, "install", m.Path+"@"+version)
		exe := filepath.Join(bin, path.Base(m.Path))
		for _, arg := range []string{"version", "--version"} {
			out := runBin(t, exe, arg)
			if !strings.HasPrefix(out, path.Base(m.Path)+" "+version+"\n") {
				t.Errorf("%s %s printed %q, want it to start with the version %s", m.Dir, arg, out, version)
			}
		}
	}
}

func thisRepo(t *testing.T) *Repo {
	t.Helper()
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := loadRepo(root)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func goCmd(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func runBin(t *testing.T, exe string, args ...string) string {
	t.Helper()
	out, err := exec.Command(exe, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", exe, strings.Join(args, " "), err, out)
	}
	return string(out)
}
