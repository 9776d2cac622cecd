package asymjwtsql_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtsql "github.com/asymjwt/asymjwt/sql"
)

// A SQLite key database: schema, one key, a verifier on the store.
func Example() {
	dir, _ := os.MkdirTemp("", "asymjwtsql")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	db, err := asymjwtsql.Open("sqlite:" + filepath.Join(dir, "keys.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if _, err := asymjwtsql.Migrate(ctx, db); err != nil { // asymjwt migrate --db URL
		panic(err)
	}

	// The client's key pair; the server stores the public half.
	key, _ := asymjwt.GenerateKey(asymjwt.KindEd25519)
	pub, _ := asymjwt.MarshalPublicKeyOpenSSH(key.Public(), "billing prod")
	if _, err := asymjwtsql.AddKey(ctx, db, "billing", string(pub), ""); err != nil { // asymjwt keys add --db URL
		panic(err)
	}

	store, err := asymjwtsql.New(ctx, db, asymjwtsql.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	v, _ := asymjwt.NewVerifier(store, asymjwt.WithLogger(slog.New(slog.DiscardHandler)))

	signer, _ := asymjwt.NewSigner("billing", key)
	token, _ := signer.Token()
	id, err := v.Verify(ctx, token)
	fmt.Println(id.Username, err)

	keys, _ := asymjwtsql.ListKeys(ctx, db, "billing")
	fmt.Println(len(keys), keys[0].Label)
	// Output:
	// billing <nil>
	// 1 billing prod
}
