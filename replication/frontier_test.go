package replication

import (
	"math/rand"
	"testing"

	"github.com/vcdb/vcdb/kv"
)

// TestFrontierAgainstModel checks Frontier against a naive model: one
// timestamp per single-byte key of a small keyspace.
func TestFrontierAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	key := func(b int) []byte { return []byte{byte(b)} }
	for run := 0; run < 200; run++ {
		const lo, hi = 10, 40
		f := NewFrontier(kv.Span{Key: key(lo), EndKey: key(hi)}, ts(5))
		model := map[int]int64{}
		for k := lo; k < hi; k++ {
			model[k] = 5
		}
		for i := 0; i < 50; i++ {
			a, b := rng.Intn(50), rng.Intn(50)
			if a > b {
				a, b = b, a
			}
			if a == b {
				b++
			}
			w := int64(rng.Intn(100))
			prevMin := f.Frontier()
			moved := f.Forward(kv.Span{Key: key(a), EndKey: key(b)}, ts(w))
			for k := a; k < b; k++ {
				if v, ok := model[k]; ok && v < w {
					model[k] = w
				}
			}
			min := int64(1 << 62)
			for _, v := range model {
				if v < min {
					min = v
				}
			}
			if got := f.Frontier(); got != ts(min) {
				t.Fatalf("frontier %s, model %d", got, min)
			}
			if moved != prevMin.Less(f.Frontier()) {
				t.Fatalf("Forward reported moved=%t wrongly", moved)
			}
			// The entries tile the span exactly, in order, each at the
			// model's value.
			next := key(lo)
			f.Entries(func(s kv.Span, e kv.Timestamp) {
				if string(s.Key) != string(next) {
					t.Fatalf("gap or overlap at %x", s.Key)
				}
				for k := int(s.Key[0]); k < int(s.EndKey[0]); k++ {
					if ts(model[k]) != e {
						t.Fatalf("key %d: entry %s, model %d", k, e, model[k])
					}
				}
				next = s.EndKey
			})
			if string(next) != string(key(hi)) {
				t.Fatal("entries do not reach the end of the span")
			}
		}
	}
}
