//go:build !race

package asymjwtsql_test

const raceEnabled = false
