package server

import (
	"context"
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// These tests drive the wire server with pgx against the scripted session,
// so pgx's own codecs check every text and binary encoding and decoding
// independently of the SQL engine (e2e_test.go repeats the important
// paths through the real binary and engine).

func connectPgx(t *testing.T, addr string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgresql://root@%s/defaultdb?sslmode=disable", addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// expectedTypes is allTypes() as the Go values pgx scans them into.
func expectedTypes() []interface{} {
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	return []interface{}{
		true,
		int16(-32768),
		int32(2147483647),
		int64(-9223372036854775808),
		float32(1.5),
		float64(-0.000123456789),
		pgtype.Numeric{Int: big.NewInt(-12345678900), Exp: -6, Valid: true},
		"it's \"q\" \\ é",
		"v",
		[]byte("\x00\x01\xfeA"),
		time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		ts,
		ts,
		pgtype.Interval{Microseconds: int64(90*time.Minute+1500*time.Microsecond) / 1000, Days: 3, Months: 14, Valid: true},
		[16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8},
		map[string]interface{}{"a": []interface{}{float64(1), "x", nil}, "b": map[string]interface{}{"c": true}},
	}
}

func TestPgxTypes(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	_, addr := startTestServer(t, &fakeEngine{}, Config{})
	conn := connectPgx(t, addr)
	ctx := context.Background()
	modes := map[string]pgx.QueryExecMode{
		"simple (text)":            pgx.QueryExecModeSimpleProtocol,
		"cache statement (binary)": pgx.QueryExecModeCacheStatement,
		"describe exec (binary)":   pgx.QueryExecModeDescribeExec,
		"exec (text)":              pgx.QueryExecModeExec,
	}
	for name, mode := range modes {
		t.Run(name, func(t *testing.T) {
			want := expectedTypes()
			got := make([]interface{}, len(want))
			dests := make([]interface{}, len(want))
			for i, w := range want {
				dests[i] = reflect.New(reflect.TypeOf(w)).Interface()
			}
			if err := conn.QueryRow(ctx, "types", mode).Scan(dests...); err != nil {
				t.Fatal(err)
			}
			for i := range dests {
				got[i] = reflect.ValueOf(dests[i]).Elem().Interface()
				if !equalValue(got[i], want[i]) {
					t.Errorf("column %s: got %#v, want %#v", allTypes()[i].name, got[i], want[i])
				}
			}
			// NULLs of every type.
			nulls := make([]interface{}, len(want))
			for i := range nulls {
				var p *string
				nulls[i] = &p
			}
			if err := conn.QueryRow(ctx, "nulls", mode).Scan(nulls...); err != nil {
				t.Fatal(err)
			}
			for i, n := range nulls {
				if *(n.(**string)) != nil {
					t.Errorf("column %d: expected NULL", i)
				}
			}
		})
	}
}

func equalValue(a, b interface{}) bool {
	switch av := a.(type) {
	case time.Time:
		return av.Equal(b.(time.Time))
	case pgtype.Numeric:
		bv := b.(pgtype.Numeric)
		// Compare values exactly, not representations: 1.50 and 15e-1
		// are equal.
		return av.Valid == bv.Valid && av.NaN == bv.NaN && av.InfinityModifier == bv.InfinityModifier &&
			(av.Int == nil) == (bv.Int == nil) && (av.Int == nil || numericRat(av).Cmp(numericRat(bv)) == 0)
	}
	return reflect.DeepEqual(a, b)
}

// TestParamRoundTrip binds a value of every type in text and binary,
// with the type given by the client, and reads it back in text and
// binary: pgx encodes the parameter and decodes the result, so both
// directions of both formats are checked against pgx's codecs.
func TestParamRoundTrip(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	_, addr := startTestServer(t, &fakeEngine{}, Config{})
	conn := connectPgx(t, addr)
	ctx := context.Background()
	pc := conn.PgConn()
	m := pgtype.NewMap()
	want := expectedTypes()
	for i, tv := range allTypes() {
		oid := uint32(tv.typ.Oid())
		stmt := "echo_" + tv.name
		if _, err := pc.Prepare(ctx, stmt, "echo $1", []uint32{oid}); err != nil {
			t.Fatal(err)
		}
		for _, pf := range []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode} {
			for _, rf := range []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode} {
				t.Run(fmt.Sprintf("%s/param%d/result%d", tv.name, pf, rf), func(t *testing.T) {
					buf, err := m.Encode(oid, pf, want[i], nil)
					if err != nil {
						t.Fatal(err)
					}
					res := pc.ExecPrepared(ctx, stmt, [][]byte{buf}, []int16{pf}, []int16{rf}).Read()
					if res.Err != nil {
						t.Fatal(res.Err)
					}
					if len(res.Rows) != 1 {
						t.Fatalf("got %d rows", len(res.Rows))
					}
					dst := reflect.New(reflect.TypeOf(want[i]))
					if err := m.Scan(oid, rf, res.Rows[0][0], dst.Interface()); err != nil {
						t.Fatal(err)
					}
					if got := dst.Elem().Interface(); !equalValue(got, want[i]) {
						t.Errorf("got %#v, want %#v", got, want[i])
					}
				})
			}
		}
	}
}

// TestPgxProtocol checks the paths pgx takes for ordinary work: statement
// caching, batches (several Bind/Execute per Sync), errors with their
// fields, transactions, notices.
func TestPgxProtocol(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	_, addr := startTestServer(t, &fakeEngine{}, Config{})
	conn := connectPgx(t, addr)
	ctx := context.Background()

	// The statement cache prepares once and re-executes.
	for i := 0; i < 3; i++ {
		var n int64
		var s string
		if err := conn.QueryRow(ctx, "rows 1").Scan(&n, &s); err != nil {
			t.Fatal(err)
		}
		if n != 1 || s != "row 1" {
			t.Fatalf("got %d %q", n, s)
		}
	}
	// A parameter whose type the engine infers (OID 0 from pgx's point of
	// view: pgx learns INT8 from ParameterDescription).
	var v int64
	if err := conn.QueryRow(ctx, "echo-int $1", 42).Scan(&v); err != nil || v != 42 {
		t.Fatalf("echo-int: %v %d", err, v)
	}
	// Errors carry SQLSTATE, detail and hint.
	_, err := conn.Exec(ctx, "error 23505 duplicate key value")
	var pgErr *pgconn.PgError
	if !errorsAs(err, &pgErr) || pgErr.Code != "23505" || pgErr.Detail != "some detail" || pgErr.Hint != "some hint" {
		t.Fatalf("unexpected error %#v", err)
	}
	// A batch: several statements in one round trip.
	b := &pgx.Batch{}
	b.Queue("rows 2")
	b.Queue("insert")
	b.Queue("echo $1", "hello")
	br := conn.SendBatch(ctx, b)
	rows, err := br.Query()
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for rows.Next() {
		count++
	}
	if rows.Err() != nil || count != 2 {
		t.Fatalf("batch rows: %v %d", rows.Err(), count)
	}
	tag, err := br.Exec()
	if err != nil || tag.String() != "INSERT 0 1" {
		t.Fatalf("batch exec: %v %q", err, tag)
	}
	var s string
	if err := br.QueryRow().Scan(&s); err != nil || s != "hello" {
		t.Fatalf("batch echo: %v %q", err, s)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	// Transaction status follows the session.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if conn.PgConn().TxStatus() != 'T' {
		t.Fatalf("status %c in a transaction", conn.PgConn().TxStatus())
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if conn.PgConn().TxStatus() != 'I' {
		t.Fatalf("status %c after commit", conn.PgConn().TxStatus())
	}
}

func errorsAs(err error, target interface{}) bool {
	return errors.As(err, target)
}

func numericRat(n pgtype.Numeric) *big.Rat {
	r := new(big.Rat).SetInt(n.Int)
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(n.Exp))), nil)
	if n.Exp >= 0 {
		return r.Mul(r, new(big.Rat).SetInt(p))
	}
	return r.Quo(r, new(big.Rat).SetInt(p))
}

func abs(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

func connectURL(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}
