package server

import (
	"context"
	gosql "database/sql"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/lib/pq"
)

// TestE2ELibPQ connects with lib/pq (database/sql), which sends its own
// startup parameters (extra_float_digits, datestyle, client_encoding) and
// uses unnamed prepared statements with text parameters.
func TestE2ELibPQ(t *testing.T) {
	n := startProcNode(t)
	db, err := gosql.Open("postgres", n.url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INT PRIMARY KEY, name STRING, at TIMESTAMPTZ)`); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES ($1, $2, $3)`, 1, "one", at); err != nil {
		t.Fatal(err)
	}
	var name string
	var got time.Time
	if err := db.QueryRowContext(ctx, `SELECT name, at FROM t WHERE id = $1`, 1).Scan(&name, &got); err != nil {
		t.Fatal(err)
	}
	if name != "one" || !got.Equal(at) {
		t.Errorf("got %q %v", name, got)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO t VALUES ($1, $2, $3)`, 1, "dup", at)
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "23505" {
		t.Errorf("duplicate key: %v", err)
	}
}
