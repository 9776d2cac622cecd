// Package cli is the asymjwt command line: Run is the whole program,
// taking its arguments, standard streams and a context, and returning the
// exit status, so that tests drive every command as a user would.
//
// All key and token work is core's (package asymjwt); this package parses
// flags, reads and writes files, and formats output.
package cli
