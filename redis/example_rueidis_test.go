package asymjwtredis_test

import (
	"context"
	"errors"
	"log"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/redis/rueidis"
)

// The same replay store through rueidis, here on a Redis Cluster (found
// from the seed addresses); rueidis.SentinelOption reaches a primary
// through Sentinel instead.
func ExampleNewRueidisStore() {
	client, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:  []string{"redis-1:6379", "redis-2:6379", "redis-3:6379"},
		DisableCache: true, // the store uses no client-side caching
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	store, err := asymjwtredis.NewRueidisStore(client)
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Check(context.Background()); errors.Is(err, asymjwtredis.ErrEvictionPolicy) {
		log.Fatal(err) // evicted entries could be replayed: refuse to start
	}
	keys := asymjwt.NewMemoryKeyStore()
	if _, err := asymjwt.NewVerifier(keys, asymjwt.WithReplayStore(store)); err != nil {
		log.Fatal(err)
	}
}
