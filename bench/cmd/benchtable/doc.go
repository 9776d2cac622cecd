// Command benchtable runs the peer benchmarks of the bench module and
// prints their tables as markdown: the cost of authenticating one request
// with asymjwt and with each peer library, × the floor (the bare
// signature check), what each one refuses, and the scale tables.
//
// Usage:
//
//	go run ./cmd/benchtable [-benchtime 10000x] [-bench regexp] [-raw file]
//	go run ./cmd/benchtable -in file
//
// It runs `go test -run '^$' -bench . -benchmem -count 1` on the bench
// package, streams go test's output to stderr as it comes, and prints
// the tables to stdout. -raw keeps go test's output (for benchstat);
// -in formats a saved output instead of running.
//
// The default -benchtime is a fixed count, not a duration: asymjwt needs
// a fresh RSA-signed token per iteration, signed before the timer, and a
// count bounds that signing time.
package main
