package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestKeys drives the key generators from testdata/workload/keys:
//
//	keys dist=uniform|sequential|zipfian cycle=N n=N [seed=S] [op=read|write] [write-seq=N] [buckets=B]
//	  draws n keys and prints, per bucket of the key space, how many fell in it
//	  (or the keys themselves with list).
//	distinct n=N keys=a,b,c,...
//	  prints distinctSortedKeys of the given stream.
func TestKeys(t *testing.T) {
	datadriven.RunTest(t, "../testdata/workload/keys", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "keys":
			var distName string
			var cycle, seqStart int64
			var n int
			seed := uint64(1)
			op := "write"
			buckets := 0
			d.ScanArgs(t, "dist", &distName)
			d.ScanArgs(t, "cycle", &cycle)
			d.ScanArgs(t, "n", &n)
			d.MaybeScanArgs(t, "seed", &seed)
			d.MaybeScanArgs(t, "op", &op)
			d.MaybeScanArgs(t, "write-seq", &seqStart)
			d.MaybeScanArgs(t, "buckets", &buckets)
			dist := map[string]KeyDistribution{"uniform": Uniform, "sequential": Sequential, "zipfian": Zipfian}[distName]
			var seq atomic.Int64
			seq.Store(seqStart)
			g := newKeyGenerator(dist, cycle, &seq, rand.New(rand.NewPCG(seed, 0)))
			next := g.writeKey
			if op == "read" {
				next = g.readKey
			}
			keys := make([]int64, n)
			for i := range keys {
				keys[i] = next()
				if keys[i] < 1 || keys[i] > cycle {
					t.Fatalf("key %d outside [1, %d]", keys[i], cycle)
				}
			}
			if buckets == 0 {
				return fmt.Sprintln(keys)
			}
			counts := make([]int, buckets)
			for _, k := range keys {
				counts[(k-1)*int64(buckets)/cycle]++
			}
			var b strings.Builder
			for i, c := range counts {
				lo := int64(i)*cycle/int64(buckets) + 1
				hi := int64(i+1) * cycle / int64(buckets)
				fmt.Fprintf(&b, "[%d, %d]: %d\n", lo, hi, c)
			}
			return b.String()
		case "distinct":
			var n int
			var in []int
			d.ScanArgs(t, "n", &n)
			d.ScanArgs(t, "keys", &in)
			i := 0
			next := func() int64 {
				k := int64(in[i%len(in)])
				i++
				return k
			}
			return fmt.Sprintln(distinctSortedKeys(nil, n, next))
		default:
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		}
	})
}

// TestUniformIsUniform checks a property the datadriven counts only show for
// one seed: over many seeds, no bucket of a uniform generator strays more
// than 10% from its expected share.
func TestUniformIsUniform(t *testing.T) {
	const cycle, n, buckets = 1_000_000, 100_000, 10
	for seed := uint64(0); seed < 20; seed++ {
		var seq atomic.Int64
		g := newKeyGenerator(Uniform, cycle, &seq, rand.New(rand.NewPCG(seed, 1)))
		counts := make([]int, buckets)
		for i := 0; i < n; i++ {
			counts[(g.readKey()-1)*buckets/cycle]++
		}
		for b, c := range counts {
			if c < n/buckets*9/10 || c > n/buckets*11/10 {
				t.Fatalf("seed %d: bucket %d has %d of %d keys", seed, b, c, n)
			}
		}
	}
}

// TestSequentialSharedAcrossWorkers checks that sequential generators of
// one run share their counter: concurrent writers never write a key twice
// within a cycle.
func TestSequentialSharedAcrossWorkers(t *testing.T) {
	const workers, each = 4, 1000
	var seq atomic.Int64
	seen := make(chan int64, workers*each)
	done := make(chan struct{})
	for w := 0; w < workers; w++ {
		g := newKeyGenerator(Sequential, 1<<40, &seq, rand.New(rand.NewPCG(1, uint64(w))))
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < each; i++ {
				seen <- g.writeKey()
			}
		}()
	}
	for w := 0; w < workers; w++ {
		<-done
	}
	close(seen)
	keys := map[int64]bool{}
	for k := range seen {
		if keys[k] {
			t.Fatalf("key %d written twice", k)
		}
		keys[k] = true
	}
	for k := int64(1); k <= workers*each; k++ {
		if !keys[k] {
			t.Fatalf("key %d missing", k)
		}
	}
}
