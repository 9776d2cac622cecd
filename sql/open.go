package asymjwtsql

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	// The drivers Open uses: pgx's stdlib ("pgx") and modernc's pure-Go
	// SQLite ("sqlite").
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// SQLiteBusyTimeout is how long, in milliseconds, a SQLite connection
// opened by Open waits for another writer before failing.
const SQLiteBusyTimeout = 5000

// Open opens the database named by a URL:
//
//   - postgres://… or postgresql://… (any URL or keyword/value string
//     github.com/jackc/pgx/v5 accepts after that prefix), through pgx's
//     database/sql driver;
//   - sqlite:PATH, a SQLite file (created if missing) through
//     modernc.org/sqlite, pure Go, in WAL mode (readers do not block the
//     writer) with a busy timeout of SQLiteBusyTimeout.
//
// It does not connect: the first query does, or db.PingContext.
func Open(dbURL string) (*sql.DB, error) {
	switch {
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		return sql.Open("pgx", dbURL)
	case strings.HasPrefix(dbURL, "sqlite:"):
		path := strings.TrimPrefix(dbURL, "sqlite:")
		if path == "" || strings.ContainsAny(path, "?#") {
			return nil, fmt.Errorf("asymjwtsql: sqlite URL %q: want sqlite:PATH (a file path, no ? or #)", dbURL)
		}
		q := url.Values{"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", SQLiteBusyTimeout),
			"journal_mode(WAL)",
		}}
		return sql.Open("sqlite", path+"?"+q.Encode())
	}
	return nil, fmt.Errorf("asymjwtsql: database URL must start with postgres://, postgresql:// or sqlite: (got %q)", redact(dbURL))
}

// redact masks a URL's password for messages.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}
