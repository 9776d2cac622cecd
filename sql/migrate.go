package asymjwtsql

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrations embed.FS

// migration is one embedded schema version.
type migration struct {
	version int
	name    string
	sql     string
}

// ErrSchema: the database's schema is not the one this version of the
// package needs (Migrate has not been run, or a newer version ran it).
var ErrSchema = errors.New("asymjwtsql: schema version mismatch")

// loadMigrations reads the dialect's embedded migrations, in order. A
// file is migrations/<dialect>/<NNNN>_<name>.sql.
func loadMigrations(d dialect) ([]migration, error) {
	dir := path.Join("migrations", d.String())
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("asymjwtsql: bad migration name %s", e.Name())
		}
		data, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(data)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("asymjwtsql: migration %s out of sequence", m.name)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this package reads and writes.
func SchemaVersion() int {
	m, err := loadMigrations(postgres)
	if err != nil {
		panic(err) // embedded at build time: a broken build
	}
	return len(m)
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS asymjwt_schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    applied_at TEXT    NOT NULL
)`

// Migrate brings db's schema up to SchemaVersion, applying the embedded
// migrations it lacks, each in a transaction of its own, and returns the
// versions it applied. It is the only place this package changes the
// schema: nothing runs DDL on its own. Run it once per deployment (say,
// `asymjwt migrate --db URL` before the new version starts); concurrent
// runs on PostgreSQL wait for each other (an advisory lock); on SQLite
// one of them fails and can be run again. A database whose schema is
// newer than this package's is refused with ErrSchema.
//
// The tables are asymjwt_keys, asymjwt_jwks_trusts and
// asymjwt_schema_migrations, so they can live in the application's own
// database.
func Migrate(ctx context.Context, db *sql.DB) (applied []int, err error) {
	d, err := dialectOf(db)
	if err != nil {
		return nil, err
	}
	all, err := loadMigrations(d)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, migrationsTable); err != nil {
		return nil, fmt.Errorf("asymjwtsql: migrate: %w", err)
	}
	for _, m := range all {
		done, err := applyMigration(ctx, db, d, m, len(all))
		if err != nil {
			return applied, fmt.Errorf("asymjwtsql: migration %s: %w", m.name, err)
		}
		if done {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// applyMigration applies m unless it already was, in one transaction.
func applyMigration(ctx context.Context, db *sql.DB, d dialect, m migration, latest int) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if d == postgres {
		// Serializes concurrent migrators until commit.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7336402591834)`); err != nil {
			return false, err
		}
	}
	current, err := schemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	if current > latest {
		return false, fmt.Errorf("%w: the database is at version %d, this package knows up to %d", ErrSchema, current, latest)
	}
	if current >= m.version {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO asymjwt_schema_migrations (version, applied_at) VALUES ($1, $2)`),
		m.version, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT MAX(version) FROM asymjwt_schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

// checkSchema fails with ErrSchema unless db is at SchemaVersion.
func checkSchema(ctx context.Context, db *sql.DB) error {
	v, err := schemaVersion(ctx, db)
	if err != nil {
		// No table at all is the usual case of a database never migrated;
		// it cannot be told from other failures portably, so both say so.
		return fmt.Errorf("asymjwtsql: reading the schema version (has Migrate run?): %w", err)
	}
	if want := SchemaVersion(); v != want {
		return fmt.Errorf("%w: the database is at version %d, this package needs %d (run Migrate)", ErrSchema, v, want)
	}
	return nil
}
