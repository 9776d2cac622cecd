package asymjwtsql

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// usage is the key uses recorded in memory since they were last written.
type usage struct {
	mu sync.RWMutex
	m  map[keyUse]*use
}

type keyUse struct{ username, kid string }

type use struct {
	last    atomic.Int64 // Unix nanoseconds of the latest use
	written int64        // what the last successful write wrote; guarded by Store.flushMu
}

// flushBatch bounds the updates of one transaction.
const flushBatch = 500

// KeyUsed implements asymjwt.KeyUseRecorder: it records the use in memory
// (no I/O; one atomic store, and no allocation once the key has been
// seen) for the next write of last uses.
func (s *Store) KeyUsed(username, kid string, at time.Time) {
	k := keyUse{username, kid}
	s.uses.mu.RLock()
	u := s.uses.m[k]
	s.uses.mu.RUnlock()
	if u == nil {
		s.uses.mu.Lock()
		if u = s.uses.m[k]; u == nil {
			u = new(use)
			s.uses.m[k] = u
		}
		s.uses.mu.Unlock()
	}
	ns := at.UnixNano()
	for {
		old := u.last.Load()
		if ns <= old || u.last.CompareAndSwap(old, ns) {
			return
		}
	}
}

func (s *Store) flushLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.usedEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			_ = s.Flush(s.ctx) // reported
		}
	}
}

// pending is one use to write.
type pending struct {
	k  keyUse
	u  *use
	ns int64
}

// Flush writes the key uses recorded since the last write: each key's
// last_used_at (and, for keys from a JWKS, the trust's), only ever moved
// forward, in transactions of up to 500 updates. Uses that could not be
// written are reported and kept for the next Flush. The store calls it
// every last-used interval and on Close.
func (s *Store) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.uses.mu.RLock()
	var todo []pending
	for k, u := range s.uses.m {
		if ns := u.last.Load(); ns > u.written {
			todo = append(todo, pending{k, u, ns})
		}
	}
	s.uses.mu.RUnlock()
	if len(todo) == 0 {
		return nil
	}
	users := s.snap.Users()
	var errs []error
	for start := 0; start < len(todo); start += flushBatch {
		batch := todo[start:min(start+flushBatch, len(todo))]
		if err := s.write(ctx, batch, users); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range batch {
			p.u.written = p.ns
		}
	}
	s.prune(users)
	if err := errors.Join(errs...); err != nil {
		err = fmt.Errorf("asymjwtsql: writing last uses (kept for the next try): %w", err)
		s.report(err)
		return err
	}
	return nil
}

// write updates one batch in one transaction.
func (s *Store) write(ctx context.Context, batch []pending, users map[string]*asymjwt.SnapshotUser) error {
	if s.d == sqlite3 {
		// On the polling connection: its own writes do not move its
		// data_version, so they do not cause a reload.
		s.connMu.Lock()
		defer s.connMu.Unlock()
		err := s.writeTx(ctx, s.conn, batch, users)
		if err != nil {
			// A statement interrupted by ctx can leave SQLite's
			// transaction open past database/sql's rollback.
			_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
		}
		return err
	}
	return s.writeTx(ctx, s.db, batch, users)
}

func (s *Store) writeTx(ctx context.Context, q txBeginner, batch []pending, users map[string]*asymjwt.SnapshotUser) error {
	tx, err := q.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	keyStmt, err := tx.PrepareContext(ctx, s.d.q(`UPDATE asymjwt_keys SET last_used_at = $1
		WHERE username = $2 AND kid = $3 AND (last_used_at IS NULL OR last_used_at < $1)`))
	if err != nil {
		return err
	}
	defer keyStmt.Close()
	trustStmt, err := tx.PrepareContext(ctx, s.d.q(`UPDATE asymjwt_jwks_trusts SET last_used_at = $1
		WHERE username = $2 AND (last_used_at IS NULL OR last_used_at < $1)`))
	if err != nil {
		return err
	}
	defer trustStmt.Close()
	for _, p := range batch {
		at := s.d.t(time.Unix(0, p.ns))
		if u := users[p.k.username]; u != nil && u.Has(p.k.kid) {
			_, err = keyStmt.ExecContext(ctx, at, p.k.username, p.k.kid)
		} else {
			_, err = trustStmt.ExecContext(ctx, at, p.k.username)
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// prune forgets written uses of keys no longer loaded, so that memory
// follows the keys, not their history.
func (s *Store) prune(users map[string]*asymjwt.SnapshotUser) {
	trusts := *s.trusts.Load()
	s.uses.mu.Lock()
	defer s.uses.mu.Unlock()
	for k, u := range s.uses.m {
		if u.last.Load() > u.written {
			continue
		}
		if su := users[k.username]; su != nil && su.Has(k.kid) {
			continue
		}
		if _, ok := trusts[k.username]; ok {
			continue
		}
		delete(s.uses.m, k)
	}
}
