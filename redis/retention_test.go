package asymjwtredis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
	asymjwtredis "github.com/asymjwt/asymjwt/redis"
	"github.com/asymjwt/asymjwt/redis/redistest"
)

// TestCheckRetention: instances sharing a Redis with different
// retentions. The one keeping entries 41 s forgets a token while one
// configured for 61 s (tolerance 30 s, skew 30 s) may still accept it:
// nothing told them apart before. CheckRetention records the longest
// retention and refuses a store that keeps entries less long.
func TestCheckRetention(t *testing.T) {
	t.Parallel()
	for _, lib := range []string{"go-redis", "rueidis"} {
		t.Run(lib, func(t *testing.T) {
			t.Parallel()
			testCheckRetention(t, lib)
		})
	}
}

func testCheckRetention(t *testing.T, lib string) {
	rs := redistest.Start(t)
	ctx := context.Background()
	newStore := func(opts ...asymjwtredis.Option) (*asymjwtredis.Store, error) {
		if lib == "rueidis" {
			return asymjwtredis.NewRueidisStore(rueidisClient(t, rs), opts...)
		}
		return asymjwtredis.New(rs.Client(t), opts...)
	}
	store := func(prefix string, retention time.Duration) *asymjwtredis.Store {
		s, err := newStore(asymjwtredis.WithPrefix(prefix), asymjwtredis.WithRetention(retention))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	steps := []struct {
		name      string
		prefix    string
		retention time.Duration
		previous  time.Duration
		refused   bool
	}{
		{"first instance", "a:", 41 * time.Second, 0, false},
		{"same retention", "a:", 41 * time.Second, 0, false},
		{"longer: recorded, shorter one reported", "a:", 61 * time.Second, 41 * time.Second, false},
		{"shorter than recorded: refused", "a:", 41 * time.Second, 61 * time.Second, true},
		{"longest again", "a:", 61 * time.Second, 0, false},
		{"another prefix is another fleet", "b:", 3 * time.Second, 0, false},
	}
	for _, st := range steps {
		previous, err := store(st.prefix, st.retention).CheckRetention(ctx)
		switch {
		case st.refused && (!errors.Is(err, asymjwtredis.ErrFleetRetention) || !errors.Is(err, asymjwt.ErrReplayRetention)):
			t.Fatalf("%s: err = %v; want ErrFleetRetention (an ErrReplayRetention)", st.name, err)
		case !st.refused && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		case previous != st.previous:
			t.Fatalf("%s: previous %v; want %v", st.name, previous, st.previous)
		}
	}
}
