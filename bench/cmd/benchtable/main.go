package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/asymjwt/asymjwt/bench"
)

const benchPackage = "github.com/asymjwt/asymjwt/bench"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// run is main with its arguments and outputs.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	fs.SetOutput(stderr)
	benchtime := fs.String("benchtime", "10000x", "go test -benchtime: a count (10000x) or a duration (1s)")
	pattern := fs.String("bench", ".", "go test -bench: which benchmarks to run")
	raw := fs.String("raw", "", "also write go test's raw output to this file")
	in := fs.String("in", "", "format this saved go test -bench output instead of running")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var (
		output  []byte
		command string
		err     error
	)
	if *in != "" {
		if output, err = os.ReadFile(*in); err != nil {
			return err
		}
		command = "(saved output " + *in + ")"
	} else {
		cmdArgs := testArgs(*pattern, *benchtime)
		command = "go " + strings.Join(quote(cmdArgs), " ")
		fmt.Fprintln(stderr, "benchtable: running", command)
		if output, err = goTest(cmdArgs, stderr); err != nil {
			return err
		}
	}
	if *raw != "" {
		if err := os.WriteFile(*raw, output, 0o644); err != nil {
			return err
		}
	}
	results, err := bench.ParseResults(bytes.NewReader(output))
	if err != nil {
		return err
	}
	return results.WriteMarkdown(stdout, bench.Meta{
		Command:   command,
		GoVersion: runtime.Version(),
		CPUs:      runtime.NumCPU(),
	})
}

// testArgs are the go test arguments of a run: benchmarks only, with
// allocations, one count, a timeout that fits the largest pools.
func testArgs(pattern, benchtime string) []string {
	return []string{"test", "-run", "^$", "-bench", pattern, "-benchmem",
		"-benchtime", benchtime, "-count", "1", "-timeout", "60m", benchPackage}
}

// goTest runs go with args, copying its output to progress as it comes,
// and returns the output.
func goTest(args []string, progress io.Writer) ([]byte, error) {
	var buf bytes.Buffer
	cmd := exec.Command("go", args...)
	cmd.Stdout = io.MultiWriter(&buf, progress)
	cmd.Stderr = progress
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test: %w", err)
	}
	return buf.Bytes(), nil
}

// quote writes args as a shell would need them.
func quote(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "^$*?[] ") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}
