package server

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestE2EPgx drives the real binary with pgx in every query mode: the
// simple protocol (text), the extended protocol with binary results and
// parameters (statement cache, describe-exec), and the extended protocol
// with text (exec mode).
func TestE2EPgx(t *testing.T) {
	n := startProcNode(t)
	conn := connectURL(t, n.url)
	ctx := context.Background()
	mustExec := func(sql string, args ...interface{}) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	mustExec(`CREATE TABLE alltypes (
		id INT8 PRIMARY KEY, b BOOL, i2 INT2, i4 INT4, i8 INT8, f4 FLOAT4, f8 FLOAT8,
		n DECIMAL(20,6), t TEXT, v VARCHAR(10), by BYTEA, d DATE, ts TIMESTAMP,
		tz TIMESTAMPTZ, iv INTERVAL, u UUID, j JSONB)`)
	want := expectedTypes()
	// Parameters in binary (pgx encodes by the types the server
	// described) and through the simple protocol (pgx writes literals).
	args := append([]interface{}{int64(1)}, want...)
	mustExec(`INSERT INTO alltypes VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)`, args...)
	// pgx writes simple-protocol literals without type information, so
	// the UUID and the JSON go as their text.
	args[0] = int64(2)
	args[15] = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	args[16] = `{"a": [1, "x", null], "b": {"c": true}}`
	if _, err := conn.Exec(ctx, `INSERT INTO alltypes VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)`,
		append([]interface{}{pgx.QueryExecModeSimpleProtocol}, args...)...); err != nil {
		t.Fatalf("simple-protocol insert: %v", err)
	}
	mustExec(`INSERT INTO alltypes (id) VALUES (3)`)

	modes := map[string]pgx.QueryExecMode{
		"simple":          pgx.QueryExecModeSimpleProtocol,
		"cache-statement": pgx.QueryExecModeCacheStatement,
		"describe-exec":   pgx.QueryExecModeDescribeExec,
		"exec":            pgx.QueryExecModeExec,
	}
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) {
			for _, id := range []int64{1, 2} {
				dests := make([]interface{}, len(want))
				for i, w := range want {
					dests[i] = reflect.New(reflect.TypeOf(w)).Interface()
				}
				err := conn.QueryRow(ctx, `SELECT b, i2, i4, i8, f4, f8, n, t, v, by, d, ts, tz, iv, u, j FROM alltypes WHERE id = $1`,
					mode, id).Scan(dests...)
				if err != nil {
					t.Fatalf("row %d: %v", id, err)
				}
				for i := range dests {
					got := reflect.ValueOf(dests[i]).Elem().Interface()
					if !equalValue(got, want[i]) {
						t.Errorf("row %d column %s: got %#v, want %#v", id, allTypes()[i].name, got, want[i])
					}
				}
			}
			// Row 3 is NULL everywhere but its key.
			nulls := make([]interface{}, len(want))
			for i := range nulls {
				var p *string
				nulls[i] = &p
			}
			if err := conn.QueryRow(ctx, `SELECT b, i2, i4, i8, f4, f8, n, t, v, by, d, ts, tz, iv, u, j FROM alltypes WHERE id = $1`,
				mode, int64(3)).Scan(nulls...); err != nil {
				t.Fatal(err)
			}
			for i, p := range nulls {
				if *(p.(**string)) != nil {
					t.Errorf("row 3 column %s is not NULL", allTypes()[i].name)
				}
			}
		})
	}

	// Errors carry their SQLSTATE through pgx.
	for _, tc := range []struct{ sql, code string }{
		{`INSERT INTO alltypes (id) VALUES (1)`, "23505"},
		{`SELECT * FROM nosuchtable`, "42P01"},
		{`SELEKT 1`, "42601"},
		{`SELECT 1/0`, "22012"},
	} {
		for name, mode := range modes {
			_, err := conn.Exec(ctx, tc.sql, mode)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != tc.code {
				t.Errorf("%s (%s): got %v, want SQLSTATE %s", tc.sql, name, err, tc.code)
			}
		}
	}

	// A parameter whose type the client leaves to the server.
	var sum int64
	if err := conn.QueryRow(ctx, `SELECT count(*) + $1 FROM alltypes`, 5).Scan(&sum); err != nil || sum != 8 {
		t.Fatalf("count(*) + $1: %d, %v", sum, err)
	}
	// Transactions: the status follows BEGIN/COMMIT/ROLLBACK.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO alltypes (id, t) VALUES (10, 'in tx')`); err != nil {
		t.Fatal(err)
	}
	if st := conn.PgConn().TxStatus(); st != 'T' {
		t.Errorf("status %c inside a transaction", st)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var count int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM alltypes`).Scan(&count); err != nil || count != 3 {
		t.Errorf("after rollback: count %d, %v", count, err)
	}
	// A batch in one round trip.
	b := &pgx.Batch{}
	for i := 20; i < 30; i++ {
		b.Queue(`INSERT INTO alltypes (id, i4) VALUES ($1, $2)`, int64(i), int32(i))
	}
	b.Queue(`SELECT count(*) FROM alltypes WHERE id >= 20`)
	br := conn.SendBatch(ctx, b)
	for i := 0; i < 10; i++ {
		if _, err := br.Exec(); err != nil {
			t.Fatal(err)
		}
	}
	if err := br.QueryRow().Scan(&count); err != nil || count != 10 {
		t.Errorf("batch count %d, %v", count, err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestE2ETimeZone: timestamptz values print in the session time zone, and
// pgx reads the same instant in both formats.
func TestE2ETimeZone(t *testing.T) {
	n := startProcNode(t)
	conn := connectURL(t, n.url)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `SET TIME ZONE 'America/New_York'`); err != nil {
		t.Fatal(err)
	}
	var text string
	if err := conn.QueryRow(ctx, `SELECT '2024-07-01 12:00:00+00'::TIMESTAMPTZ::TEXT`).Scan(&text); err != nil {
		t.Fatal(err)
	}
	var s string
	if err := conn.QueryRow(ctx, `SELECT '2024-07-01 12:00:00+00'::TIMESTAMPTZ`, pgx.QueryExecModeSimpleProtocol).Scan(&s); err != nil {
		t.Fatal(err)
	}
	if s != "2024-07-01 08:00:00-04" {
		t.Errorf("timestamptz text in New York: %q (cast to text: %q)", s, text)
	}
	var ts time.Time
	if err := conn.QueryRow(ctx, `SELECT '2024-07-01 12:00:00+00'::TIMESTAMPTZ`).Scan(&ts); err != nil {
		t.Fatal(err)
	}
	if !ts.Equal(time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("binary timestamptz: %v", ts)
	}
}
