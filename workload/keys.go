package workload

import (
	"math/rand/v2"
	"sync/atomic"
)

// KeyDistribution names how kv picks the keys it reads and writes.
type KeyDistribution int

const (
	// Uniform picks every key in [1, cycle] with the same probability, as the
	// PostgreSQL anchor's pgbench scripts do (`random(1, 1000000)`).
	Uniform KeyDistribution = iota
	// Sequential writes keys in ascending order from a counter shared by all
	// workers, wrapping at the cycle length, and reads keys written so far.
	Sequential
	// Zipfian favours small keys (skew s = 1.1): a few hot rows and a long
	// tail, for contention experiments.
	Zipfian
)

// keyGenerator yields the keys of one kv worker. It is used by one goroutine;
// only the sequential counter it may share with other workers is atomic.
type keyGenerator interface {
	// writeKey returns the key of the next row to write.
	writeKey() int64
	// readKey returns the key of the next row to read.
	readKey() int64
}

// zipfSkew is the exponent of the Zipfian distribution. It must be above 1
// (math/rand/v2's requirement); 1.1 is strongly skewed but not degenerate.
const zipfSkew = 1.1

// newKeyGenerator returns a generator over keys [1, cycle]. seq is the
// counter that sequential generators of one run share; its value is the
// number of keys written so far (write-seq at the start).
func newKeyGenerator(dist KeyDistribution, cycle int64, seq *atomic.Int64, rng *rand.Rand) keyGenerator {
	if cycle < 1 {
		cycle = 1
	}
	switch dist {
	case Sequential:
		return &sequentialKeys{cycle: cycle, seq: seq, rng: rng}
	case Zipfian:
		return &zipfKeys{z: rand.NewZipf(rng, zipfSkew, 1, uint64(cycle-1))}
	default:
		return &uniformKeys{cycle: cycle, rng: rng}
	}
}

type uniformKeys struct {
	cycle int64
	rng   *rand.Rand
}

func (u *uniformKeys) writeKey() int64 { return 1 + u.rng.Int64N(u.cycle) }
func (u *uniformKeys) readKey() int64  { return 1 + u.rng.Int64N(u.cycle) }

type sequentialKeys struct {
	cycle int64
	seq   *atomic.Int64
	rng   *rand.Rand
}

// writeKey takes the next number of the shared sequence and maps it onto
// [1, cycle], so a run longer than the cycle overwrites from key 1 again.
func (s *sequentialKeys) writeKey() int64 {
	n := s.seq.Add(1)
	return (n-1)%s.cycle + 1
}

// readKey reads a key that has been written: uniform over [1, written], where
// written is the sequence so far capped at the cycle. Before any write it
// reads key 1, which may be missing; a read of a missing key is still an
// operation, as in CockroachDB's kv.
func (s *sequentialKeys) readKey() int64 {
	written := min(s.seq.Load(), s.cycle)
	if written < 1 {
		return 1
	}
	return 1 + s.rng.Int64N(written)
}

type zipfKeys struct {
	z *rand.Zipf
}

func (z *zipfKeys) writeKey() int64 { return 1 + int64(z.z.Uint64()) }
func (z *zipfKeys) readKey() int64  { return 1 + int64(z.z.Uint64()) }

// distinctSortedKeys fills dst with n distinct keys from next, in ascending
// order. Batched writes need distinct keys (a statement may not write one row
// twice) and a global order (so concurrent batches cannot deadlock). When the
// key space is smaller than n, it returns as many distinct keys as it found
// within a bounded number of draws.
func distinctSortedKeys(dst []int64, n int, next func() int64) []int64 {
	dst = dst[:0]
	for draws := 0; len(dst) < n && draws < 10*n+10; draws++ {
		k := next()
		dup := false
		for _, have := range dst {
			if have == k {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, k)
		}
	}
	// Insertion sort: batches are small.
	for i := 1; i < len(dst); i++ {
		for j := i; j > 0 && dst[j] < dst[j-1]; j-- {
			dst[j], dst[j-1] = dst[j-1], dst[j]
		}
	}
	return dst
}
