package workload

import (
	"sort"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1 µs to 100 s, with three
// significant digits: sub-millisecond point reads on loopback and multi-second
// stalls both stay resolvable, and a histogram stays well under a megabyte.
const (
	histMinMicros = 1
	histMaxMicros = 100 * 1000 * 1000
	histSigFigs   = 3
)

func newHDR() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
}

// Histograms holds one latency histogram per operation name ("read",
// "write", "transfer", ...). Workers record into it concurrently; the
// reporter takes the current window every tick. Each operation has its own
// lock so that workers of different operations do not contend.
type Histograms struct {
	mu struct {
		sync.Mutex
		byName map[string]*namedHistogram
	}
}

type namedHistogram struct {
	name string
	mu   struct {
		sync.Mutex
		// window collects the latencies since the last tick.
		window *hdrhistogram.Histogram
	}
}

// NewHistograms returns an empty registry.
func NewHistograms() *Histograms {
	h := &Histograms{}
	h.mu.byName = make(map[string]*namedHistogram)
	return h
}

// Get returns the histogram of an operation, creating it on first use.
// Workers call Get once and keep the result.
func (h *Histograms) Get(name string) *namedHistogram {
	h.mu.Lock()
	defer h.mu.Unlock()
	nh, ok := h.mu.byName[name]
	if !ok {
		nh = &namedHistogram{name: name}
		nh.mu.window = newHDR()
		h.mu.byName[name] = nh
	}
	return nh
}

// Record adds one operation's latency. Values beyond the histogram's range
// are clamped to it rather than lost, so that a stall still counts as an
// operation and shows as the maximum.
func (nh *namedHistogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < histMinMicros {
		us = histMinMicros
	}
	if us > histMaxMicros {
		us = histMaxMicros
	}
	nh.mu.Lock()
	_ = nh.mu.window.RecordValue(us)
	nh.mu.Unlock()
}

// tick swaps out every operation's window and returns them by name, sorted,
// leaving fresh windows behind.
func (h *Histograms) tick() []namedWindow {
	h.mu.Lock()
	all := make([]*namedHistogram, 0, len(h.mu.byName))
	for _, nh := range h.mu.byName {
		all = append(all, nh)
	}
	h.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	out := make([]namedWindow, 0, len(all))
	for _, nh := range all {
		fresh := newHDR()
		nh.mu.Lock()
		w := nh.mu.window
		nh.mu.window = fresh
		nh.mu.Unlock()
		out = append(out, namedWindow{name: nh.name, hist: w})
	}
	return out
}

// namedWindow is one operation's latencies over one reporting interval.
type namedWindow struct {
	name string
	hist *hdrhistogram.Histogram
}
