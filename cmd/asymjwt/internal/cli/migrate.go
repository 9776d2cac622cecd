package cli

import (
	"context"
	"fmt"

	asymjwtsql "github.com/asymjwt/asymjwt/sql"
)

func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "migrate", help{
		usage: "asymjwt migrate --db URL",
		text: `Creates or upgrades the key database's schema (the tables asymjwt_keys,
asymjwt_jwks_trusts and asymjwt_schema_migrations) to the version this
asymjwt needs, and prints the versions it applied. Run it once per
deployment, before servers with --keys-db start: they refuse a database
whose schema is not theirs, and never change it themselves.`,
		example: `asymjwt migrate --db postgres://asymjwt@db.internal/keys`,
	})
	dbURL := fs.String("db", "", "the key database `URL`: postgres://, postgresql:// or sqlite:PATH")
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case *dbURL == "":
		return usagef("--db is required")
	case len(rest) != 0:
		return usagef("unexpected argument %q", rest[0])
	}
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	db, err := openDBFor(ctx, *dbURL, true)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := asymjwtsql.Migrate(ctx, db)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(e.stdout, "schema already at version %d\n", asymjwtsql.SchemaVersion())
		return nil
	}
	for _, v := range applied {
		fmt.Fprintf(e.stdout, "applied version %d\n", v)
	}
	return nil
}
