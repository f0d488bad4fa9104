package server

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vcdb/vcdb/sql"
)

// BenchmarkEncodeRow measures encoding the all-types row (text and
// binary): the per-row cost of the server's part of a SELECT.
func BenchmarkEncodeRow(b *testing.B) {
	tvs := allTypes()
	row := make(tree.Datums, len(tvs))
	cols := make([]sql.Column, len(tvs))
	for i, tv := range tvs {
		row[i], cols[i] = tv.val, sql.Column{Name: tv.name, Type: tv.typ}
	}
	for _, format := range []int16{formatText, formatBinary} {
		b.Run(fmt.Sprintf("format=%d", format), func(b *testing.B) {
			c := &conn{enc: newEncoder(), wb: writeBuffer{w: discard{}}}
			formats := []int16{format}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := c.sendDataRow(row, cols, formats); err != nil {
					b.Fatal(err)
				}
				c.wb.buf = c.wb.buf[:0]
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkPgxRoundTrip measures a prepared single-row query through pgx
// against the scripted session, so only the wire server and the client
// are measured (no engine): per-query latency, allocations, and
// throughput at several connection counts.
func BenchmarkPgxRoundTrip(b *testing.B) {
	_, addr := startTestServer(b, &fakeEngine{}, Config{})
	benchmarkQuery(b, addr, "echo-int $1")
}

// BenchmarkPointSelect measures a point SELECT by primary key through pgx
// against a real in-process node (memory store).
func BenchmarkPointSelect(b *testing.B) {
	node, err := StartNode(context.Background(), NodeConfig{
		InMemory: true, ListenAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Insecure: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Close()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, node.SQLURL())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k INT8 PRIMARY KEY, v BYTES)"); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO kv SELECT i, 'value' FROM generate_series(1, 1000) AS g(i)"); err != nil {
		b.Fatal(err)
	}
	_ = conn.Close(ctx)
	benchmarkQuery(b, node.SQLAddr().String(), "SELECT v FROM kv WHERE k = $1")
}

func benchmarkQuery(b *testing.B, addr, query string) {
	benchmarkQueryURL(b, fmt.Sprintf("postgresql://root@%s/defaultdb?sslmode=disable", addr), query, 1, 8, 32)
}

// benchmarkQueryURL runs query (with one integer argument) through pgx
// connections to u, at each connection count.
func benchmarkQueryURL(b *testing.B, u, query string, connCounts ...int) {
	for _, conns := range connCounts {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			ctx := context.Background()
			clients := make([]*pgx.Conn, conns)
			for i := range clients {
				c, err := pgx.Connect(ctx, u)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close(ctx)
				clients[i] = c
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for _, c := range clients {
				wg.Add(1)
				go func(c *pgx.Conn) {
					defer wg.Done()
					var v interface{}
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if err := c.QueryRow(ctx, query, i%1000+1).Scan(&v); err != nil {
							b.Error(err)
							return
						}
					}
				}(c)
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "queries/s")
		})
	}
}

// benchClusters are the virtual clusters the routing benchmarks compare:
// the system VC and the application VC main of a --virtualized node.
var benchClusters = []string{"system", "main"}

// BenchmarkVCPointSelect compares point SELECTs through an application
// VC with the system VC's on one node (issue 4: routing must add no
// measurable cost on the hot path). Both VCs hold the same table.
func BenchmarkVCPointSelect(b *testing.B) {
	node := startTestNode(b, sql.InitVirtualized)
	ctx := context.Background()
	for _, cluster := range benchClusters {
		conn, err := pgx.Connect(ctx, clusterURL(node, cluster))
		if err != nil {
			b.Fatal(err)
		}
		for _, stmt := range []string{
			"CREATE TABLE kv (k INT8 PRIMARY KEY, v BYTES)",
			"INSERT INTO kv SELECT i, 'value' FROM generate_series(1, 1000) AS g(i)",
		} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				b.Fatal(err)
			}
		}
		_ = conn.Close(ctx)
	}
	for _, cluster := range benchClusters {
		b.Run("cluster="+cluster, func(b *testing.B) {
			benchmarkQueryURL(b, clusterURL(node, cluster), "SELECT v FROM kv WHERE k = $1", 1, 8)
		})
	}
}

// BenchmarkVCConnect compares connection set-up (connect, authenticate,
// open the session, first ReadyForQuery; then close) to an application VC
// with the system VC's, in insecure mode and in secure mode (TLS, root
// with its client certificate).
func BenchmarkVCConnect(b *testing.B) {
	f := testAuthFixture(b)
	for _, secure := range []bool{false, true} {
		mode := "insecure"
		cfg := NodeConfig{InMemory: true, ListenAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			Init: sql.InitVirtualized, Logf: b.Logf, Insecure: !secure}
		if secure {
			mode, cfg.CertsDir, cfg.ListenAddr = "secure", f.dir, "localhost:0"
		}
		node, err := StartNode(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, cluster := range benchClusters {
			b.Run(fmt.Sprintf("mode=%s/cluster=%s", mode, cluster), func(b *testing.B) {
				u := clusterURL(node, cluster)
				if secure {
					crt, key := f.clientCertFiles("root")
					u = fmt.Sprintf("postgresql://root@localhost:%d/defaultdb?options=-ccluster%%3D%s&sslmode=verify-full&sslrootcert=%s&sslcert=%s&sslkey=%s",
						node.SQLAddr().(*net.TCPAddr).Port, cluster, f.caFile("main"), crt, key)
				}
				cc, err := pgconn.ParseConfig(u)
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					conn, err := pgconn.ConnectConfig(ctx, cc)
					if err != nil {
						b.Fatal(err)
					}
					if err := conn.Close(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		node.Close()
	}
}
