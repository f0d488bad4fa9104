package sql

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
)

// BenchmarkVCPointSelect compares a prepared point SELECT in the system VC
// with the same in an application VC of the same Host, as a user holding
// SELECT through a grant (not an admin), so that routing and privilege
// checks are on the measured path (issue 4: within 5%). Sub-benchmarks
// alternate so that machine noise hits both.
func BenchmarkVCPointSelect(b *testing.B) {
	ctx := context.Background()
	h, _, stop := testHost(b, HostConfig{})
	defer stop()
	sys := rootSession(b, h.System())
	defer sys.Close()
	mustExec(b, sys, "CREATE VIRTUAL CLUSTER main; ALTER VIRTUAL CLUSTER main START SERVICE SHARED")
	app, ok := h.Lookup("main")
	if !ok {
		b.Fatal("main is not running")
	}
	args := make([]tree.Datums, benchRows)
	for i := range args {
		args[i] = tree.Datums{tree.NewDInt(tree.DInt(i + 1))}
	}
	type target struct {
		name string
		sel  *Prepared
		s    *Session
	}
	var targets []target
	for _, srv := range []*Server{h.System(), app} {
		root := rootSession(b, srv)
		mustExec(b, root, "CREATE TABLE kv (k INT8 PRIMARY KEY, v BYTES); CREATE USER reader; GRANT SELECT ON kv TO reader")
		ins := mustPrepare(b, root, "INSERT INTO kv SELECT g, 'value-value-value' FROM generate_series(1, $1) AS g")
		runPrepared(b, root, ins, tree.Datums{tree.NewDInt(benchRows)})
		root.Close()
		s, err := srv.NewSession(ctx, SessionArgs{User: "reader", Database: "defaultdb"})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		targets = append(targets, target{name: "vc=" + srv.TenantName(), s: s, sel: mustPrepare(b, s, "SELECT v FROM kv WHERE k = $1")})
	}
	for round := 0; round < 2; round++ {
		for _, tg := range targets {
			b.Run(tg.name, func(b *testing.B) {
				b.ReportAllocs()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					runPrepared(b, tg.s, tg.sel, args[i%benchRows])
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
			})
		}
	}
}

// BenchmarkVCNewSession compares the engine's part of connection set-up
// (authentication lookup and session creation) in the system VC and in an
// application VC.
func BenchmarkVCNewSession(b *testing.B) {
	ctx := context.Background()
	h, _, stop := testHost(b, HostConfig{})
	defer stop()
	sys := rootSession(b, h.System())
	defer sys.Close()
	mustExec(b, sys, "CREATE VIRTUAL CLUSTER main; ALTER VIRTUAL CLUSTER main START SERVICE SHARED")
	app, _ := h.Lookup("main")
	for _, srv := range []*Server{h.System(), app} {
		root := rootSession(b, srv)
		mustExec(b, root, "CREATE USER app")
		root.Close()
	}
	for round := 0; round < 2; round++ {
		for _, name := range []string{"system", "main"} {
			b.Run("vc="+name, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					srv, ok := h.Lookup(name)
					if !ok {
						b.Fatal("not running")
					}
					if _, found, err := srv.LookupUser(ctx, "app"); err != nil || !found {
						b.Fatal(err)
					}
					s, err := srv.NewSession(ctx, SessionArgs{User: "app", Database: "defaultdb"})
					if err != nil {
						b.Fatal(err)
					}
					s.Close()
				}
			})
		}
	}
}
