package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestStatements prints, from testdata/workload/statements, the SQL the
// workloads send in each dialect, so that a change to any statement shows
// as a diff:
//
//	statements dialect=cockroach|postgres [batch=N]
func TestStatements(t *testing.T) {
	datadriven.RunTest(t, "../testdata/workload/statements", func(t *testing.T, d *datadriven.TestData) string {
		if d.Cmd != "statements" {
			t.Fatalf("unknown command %s", d.Cmd)
		}
		var name string
		batch := 1
		d.ScanArgs(t, "dialect", &name)
		d.MaybeScanArgs(t, "batch", &batch)
		dialect := map[string]Dialect{"cockroach": Cockroach, "postgres": Postgres}[name]
		var b strings.Builder
		worker := func(k *KV) *kvWorker {
			w, err := k.NewWorker(context.Background(), nil, dialect, NewHistograms(), rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			return w.(*kvWorker)
		}
		kv := DefaultKV()
		w := worker(kv)
		ins := DefaultKV()
		ins.InsertOnly = true
		fmt.Fprintf(&b, "kv namespace: %s\n", dialect.createContainer("kv"))
		fmt.Fprintf(&b, "kv table: %s\n", kv.createTable(dialect))
		fmt.Fprintf(&b, "kv read: %s\n", w.readStmt(batch))
		fmt.Fprintf(&b, "kv write: %s\n", w.writeStmt(batch))
		fmt.Fprintf(&b, "kv insert-only write: %s\n", worker(ins).writeStmt(batch))
		fmt.Fprintf(&b, "kv load: INSERT INTO kv.kv (k, v) VALUES %s\n", valuesList(batch, 2))
		bank := DefaultBank()
		fmt.Fprintf(&b, "bank namespace: %s\n", dialect.createContainer("bank"))
		fmt.Fprintf(&b, "bank table: %s\n", bank.createTable(dialect))
		fmt.Fprintf(&b, "bank begin: %s\n", dialect.beginSerializable())
		if aost, err := dialect.asOfSystemTime("-1s"); err != nil {
			fmt.Fprintf(&b, "bank check as of -1s: error: %v\n", err)
		} else {
			fmt.Fprintf(&b, "bank check as of -1s: SELECT id, balance FROM bank.bank%s\n", aost)
		}
		if aost, err := dialect.asOfSystemTime("it's"); err == nil {
			fmt.Fprintf(&b, "quoting: %q\n", aost)
		}
		return b.String()
	})
}
