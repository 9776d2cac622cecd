package asymjwtredis

import "time"

// SetClock replaces the store's time.Now, to play a verifier whose clock
// differs from Redis's.
func SetClock(s *Store, now func() time.Time) { s.clock = now }

var TTLMillis = ttlMillis
