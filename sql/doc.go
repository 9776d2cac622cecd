// Package asymjwtsql keeps asymjwt's public keys in a SQL database —
// PostgreSQL for a fleet of instances, SQLite for one machine — as the
// Python library keeps them in the application's database (its PublicKey
// and JWKSEndpointTrust tables).
//
// [Migrate] creates and upgrades the schema (embedded, versioned SQL;
// never run implicitly). [AddKey], [RemoveKey], [RevokeKey], [ListKeys],
// [TrustJWKS] and [UntrustJWKS] manage it, as `asymjwt keys --db URL`
// does. [New] returns a [Store], the asymjwt.KeyStore the verifier uses:
// it serves every lookup from memory and follows the database
// (PostgreSQL LISTEN/NOTIFY plus a periodic full reload; SQLite PRAGMA
// data_version polling), records key use in memory and writes
// last_used_at in batches, and fails closed when the database has been
// unreadable for longer than its max staleness. [Open] opens a database
// from a postgres://, postgresql:// or sqlite:PATH URL with the drivers
// this package supports: github.com/jackc/pgx/v5's stdlib and
// modernc.org/sqlite (pure Go, no cgo).
//
// See README.md for the schema, the revocation delay and operations.
package asymjwtsql
