package asymjwtsql

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// dialect is what differs between PostgreSQL and SQLite.
type dialect int

const (
	postgres dialect = iota + 1
	sqlite3
)

func (d dialect) String() string {
	if d == postgres {
		return "postgres"
	}
	return "sqlite"
}

// dialectOf tells the database of db from its driver: pgx's stdlib driver
// or modernc.org/sqlite.
func dialectOf(db *sql.DB) (dialect, error) {
	switch drv := db.Driver(); drv.(type) {
	case *stdlib.Driver:
		return postgres, nil
	case *sqlite.Driver:
		return sqlite3, nil
	default:
		return 0, fmt.Errorf("asymjwtsql: unsupported driver %T: use github.com/jackc/pgx/v5/stdlib or modernc.org/sqlite", drv)
	}
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

// q turns a query written with PostgreSQL's $N placeholders into the
// dialect's: SQLite's ?N, numbered alike.
func (d dialect) q(query string) string {
	if d == postgres {
		return query
	}
	return placeholder.ReplaceAllString(query, "?$1")
}

// sqliteTime is how times are written to SQLite: UTC, fixed width, so
// that they compare as text in time order, and readable by SQLite's date
// functions.
const sqliteTime = "2006-01-02 15:04:05.000000Z"

// t is the argument for a time column.
func (d dialect) t(t time.Time) driver.Value {
	if d == postgres {
		return t
	}
	return t.UTC().Format(sqliteTime)
}

// nullTime reads a time column, whichever form the driver gives it in.
type nullTime struct {
	Time  time.Time
	Valid bool
}

func (n *nullTime) Scan(v any) error {
	n.Valid = v != nil
	switch v := v.(type) {
	case nil:
		n.Time = time.Time{}
	case time.Time:
		n.Time = v
	case string:
		return n.parse(v)
	case []byte:
		return n.parse(string(v))
	case int64:
		n.Time = time.Unix(v, 0)
	default:
		return fmt.Errorf("asymjwtsql: cannot read %T as a time", v)
	}
	return nil
}

func (n *nullTime) parse(s string) error {
	for _, layout := range []string{sqliteTime, time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			n.Time = t
			return nil
		}
	}
	return fmt.Errorf("asymjwtsql: cannot read %q as a time", s)
}
