package sql

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// Benchmarks at the Session API level, the way the wire server drives the
// engine for a prepared statement: Execute, Next until nil, Close. They
// report rows/s; the wire-level comparison with PostgreSQL is make bench.

const benchRows = 10000

func benchServer(b *testing.B, durable bool) (*Server, func()) {
	e, err := kv.Open(kv.Options{InMemory: !durable, Dir: b.TempDir(), GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := NewServer(context.Background(), Config{KV: e, TenantID: tenant.SystemID})
	if err != nil {
		b.Fatal(err)
	}
	return srv, func() {
		srv.Close()
		_ = e.Close()
	}
}

func runPrepared(b *testing.B, s *Session, p *Prepared, args tree.Datums) {
	ctx := context.Background()
	res, err := s.Execute(ctx, p, args)
	if err != nil {
		b.Fatal(err)
	}
	for {
		row, err := res.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if row == nil {
			break
		}
	}
	if _, err := res.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPointSelect is SELECT v FROM kv WHERE k = $1 by primary key.
func BenchmarkPointSelect(b *testing.B) {
	srv, stop := benchServer(b, false)
	defer stop()
	s := newTestSession(b, srv)
	defer s.Close()
	mustExec(b, s, "CREATE TABLE kv (k INT8 PRIMARY KEY, v BYTES)")
	ins := mustPrepare(b, s, "INSERT INTO kv SELECT g, 'value-value-value' FROM generate_series(1, $1) AS g")
	runPrepared(b, s, ins, tree.Datums{tree.NewDInt(benchRows)})
	sel := mustPrepare(b, s, "SELECT v FROM kv WHERE k = $1")
	args := make([]tree.Datums, benchRows)
	for i := range args {
		args[i] = tree.Datums{tree.NewDInt(tree.DInt(i + 1))}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		runPrepared(b, s, sel, args[i%benchRows])
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkPointSelectParallel runs point selects from 8 sessions.
func BenchmarkPointSelectParallel(b *testing.B) {
	srv, stop := benchServer(b, false)
	defer stop()
	s := newTestSession(b, srv)
	defer s.Close()
	mustExec(b, s, "CREATE TABLE kv (k INT8 PRIMARY KEY, v BYTES)")
	ins := mustPrepare(b, s, "INSERT INTO kv SELECT g, 'value-value-value' FROM generate_series(1, $1) AS g")
	runPrepared(b, s, ins, tree.Datums{tree.NewDInt(benchRows)})
	b.ReportAllocs()
	b.SetParallelism(4)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		s := newTestSession(b, srv)
		defer s.Close()
		sel := mustPrepare(b, s, "SELECT v FROM kv WHERE k = $1")
		for pb.Next() {
			k := next.Add(1)%benchRows + 1
			runPrepared(b, s, sel, tree.Datums{tree.NewDInt(tree.DInt(k))})
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkInsert is a single-row INSERT per implicit transaction,
// committed durably (WAL synced), from one session.
func BenchmarkInsert(b *testing.B) {
	srv, stop := benchServer(b, true)
	defer stop()
	s := newTestSession(b, srv)
	defer s.Close()
	mustExec(b, s, "CREATE TABLE kv (k INT8 PRIMARY KEY, v BYTES)")
	ins := mustPrepare(b, s, "INSERT INTO kv VALUES ($1, $2)")
	val := tree.NewDBytes("value-value-value")
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		runPrepared(b, s, ins, tree.Datums{tree.NewDInt(tree.DInt(i)), val})
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkInsertParallel is BenchmarkInsert from 32 sessions at once,
// which is where group commit pays.
func BenchmarkInsertParallel(b *testing.B) {
	for _, name := range []string{"insert", "upsert"} {
		b.Run(name, func(b *testing.B) {
			srv, stop := benchServer(b, true)
			defer stop()
			s := newTestSession(b, srv)
			defer s.Close()
			mustExec(b, s, "CREATE TABLE kv (k INT8 PRIMARY KEY, v BYTES)")
			val := tree.NewDBytes("value-value-value")
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(16)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				s := newTestSession(b, srv)
				defer s.Close()
				stmt := "INSERT INTO kv VALUES ($1, $2)"
				if name == "upsert" {
					stmt = "UPSERT INTO kv VALUES ($1, $2)"
				}
				ins := mustPrepare(b, s, stmt)
				for pb.Next() {
					runPrepared(b, s, ins, tree.Datums{tree.NewDInt(tree.DInt(next.Add(1))), val})
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
		})
	}
}
