package asymjwtredis_test

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net/http"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/redis/go-redis/v9"
)

// A service that runs as several instances shares one replay store.
func Example() {
	rdb := redis.NewClient(&redis.Options{
		Addr: "redis:6379",
		// Let deadlines reach the socket.
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()
	store, err := asymjwtredis.New(rdb, asymjwtredis.WithPrefix("orders:replay:"))
	if err != nil {
		log.Fatal(err)
	}
	switch err := store.Check(context.Background()); {
	case errors.Is(err, asymjwtredis.ErrEvictionPolicy):
		log.Fatal(err) // evicted entries could be replayed: refuse to start
	case err != nil:
		slog.Warn("replay store not checked", "err", err)
	}

	keys := asymjwt.NewMemoryKeyStore() // or an authorized-keys directory
	v, err := asymjwt.NewVerifier(keys,
		asymjwt.WithAudience("orders"),
		asymjwt.WithReplayStore(store))
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := asymjwt.FromContext(r.Context())
		_, _ = w.Write([]byte("hello " + id.Username))
	})))
}
