//go:build race

package asymjwtsql_test

// raceEnabled: the race detector makes the 100,000-user load take tens
// of seconds, so that test loads fewer users under it.
const raceEnabled = true
