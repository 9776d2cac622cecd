// Package bench measures what authenticating one request costs with
// asymjwt and with the libraries a Go team would otherwise pick, against
// the floor: the bare signature check.
//
// Every case verifies the same request (GET /v1/items?page=2) with the
// same key and algorithm; each peer is set up the way its README does for
// asymmetric keys. [Cases] lists the rows, [Case.Checks] what each refuses
// beyond a bad signature (the tests prove it), and the benchmarks in this
// package's tests run them. cmd/benchtable runs the benchmarks and prints
// the tables.
//
// asymjwt refuses replays, so each of its requests needs a fresh token:
// [FreshTokens] signs them before the timer starts. The peers verify one
// token of the same shape over and over, as their users' clients send a
// token for its whole lifetime.
package bench
