package pgtest_test

import (
	"testing"

	"github.com/asymjwt/asymjwt/sql/pgtest"
)

func TestStartStopRestart(t *testing.T) {
	s := pgtest.Start(t)
	db := s.Open(t, "postgres")
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %v %d", err, one)
	}
	s.Stop()
	if err := db.Ping(); err == nil {
		t.Fatal("server answers after Stop")
	}
	s.Restart()
	url := s.NewDatabase(t)
	if url == "" {
		t.Fatal("no URL")
	}
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
}
