package asymjwtsql

import "time"

// WithListenRetry sets the wait before the listener connects again, so
// that a test can keep it away and see the periodic reload alone.
func WithListenRetry(d time.Duration) Option {
	return func(c *config) { c.listenRetry = d }
}
