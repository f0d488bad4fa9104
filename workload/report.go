package workload

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The per-interval and final lines follow `cockroach workload`'s layout, so
// that users can read vcdb's output the way they read CockroachDB's, with two
// decimals of milliseconds because loopback latencies are often below 1 ms.
const (
	tickHeader    = "_elapsed___errors__ops/sec(inst)___ops/sec(cum)__p50(ms)__p95(ms)__p99(ms)_pMax(ms)"
	summaryHeader = "_elapsed___errors_____ops(total)___ops/sec(cum)__avg(ms)__p50(ms)__p95(ms)__p99(ms)_pMax(ms)"
	// headerEvery repeats the tick header, as cockroach does, so that a long
	// run's output stays readable when scrolled.
	headerEvery = 20
	// ResultName names the line of the summary that covers all operations.
	ResultName = "__result"
)

// OpStats are the figures of one operation (or of all of them, ResultName)
// over the measured part of a run.
type OpStats struct {
	Name      string  `json:"op"`
	Ops       int64   `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	MeanMs    float64 `json:"avg_ms"`
	P50Ms     float64 `json:"p50_ms"`
	P95Ms     float64 `json:"p95_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
}

// Summary is the result of a run: the measured interval (after the ramp),
// the errors and the figures per operation and overall.
type Summary struct {
	Elapsed time.Duration
	Errors  int64
	// Ops has one entry per operation that ran, sorted by name.
	Ops []OpStats
	// Total merges every operation's latencies.
	Total OpStats
}

// tickRecord is one line of the --histograms file: one operation's figures
// over one reporting interval.
type tickRecord struct {
	ElapsedS     float64 `json:"elapsed_s"`
	Op           string  `json:"op"`
	Ops          int64   `json:"ops"`
	OpsPerSec    float64 `json:"ops_per_sec"`
	OpsPerSecCum float64 `json:"ops_per_sec_cum"`
	P50Ms        float64 `json:"p50_ms"`
	P95Ms        float64 `json:"p95_ms"`
	P99Ms        float64 `json:"p99_ms"`
	MaxMs        float64 `json:"max_ms"`
	Errors       int64   `json:"errors"`
	// Ramp marks intervals of the ramp, which the summary leaves out.
	Ramp bool `json:"ramp,omitempty"`
}

// summaryRecord is a final line of the --histograms file.
type summaryRecord struct {
	Summary  bool    `json:"summary"`
	ElapsedS float64 `json:"elapsed_s"`
	Errors   int64   `json:"errors"`
	OpStats
}

// reporter turns histogram windows into output. It is used by one goroutine
// (the runner's reporter) and takes every time as an argument, so tests drive
// it with a fake clock.
type reporter struct {
	out  io.Writer
	json *json.Encoder // nil without --histograms

	start    time.Time // when the run started: elapsed in tick lines
	cumStart time.Time // when the measured part started (after the ramp)
	lastTick time.Time
	ramping  bool
	// cumErrors is the error count when the measured part started.
	cumErrorsBase int64
	cum           map[string]*hdrhistogram.Histogram
	order         []string // operation names in first-seen order, re-sorted on insert
	lines         int
}

func newReporter(out, histOut io.Writer, start time.Time, ramping bool) *reporter {
	r := &reporter{out: out, start: start, cumStart: start, lastTick: start, ramping: ramping,
		cum: make(map[string]*hdrhistogram.Histogram)}
	if histOut != nil {
		r.json = json.NewEncoder(histOut)
	}
	return r
}

func microsToMs(us int64) float64 { return float64(us) / 1000 }

// tick prints one line per operation that has run for the interval ending at
// now and adds the windows to the cumulative histograms. errors is the total
// error count of the run so far.
func (r *reporter) tick(now time.Time, windows []namedWindow, errors int64) error {
	interval := now.Sub(r.lastTick).Seconds()
	r.lastTick = now
	for _, w := range windows {
		c, ok := r.cum[w.name]
		if !ok {
			if w.hist.TotalCount() == 0 {
				continue
			}
			c = newHDR()
			r.cum[w.name] = c
			r.insertName(w.name)
		}
		c.Merge(w.hist)
	}
	byName := make(map[string]*hdrhistogram.Histogram, len(windows))
	for _, w := range windows {
		byName[w.name] = w.hist
	}
	cumSecs := now.Sub(r.cumStart).Seconds()
	for _, name := range r.order {
		w := byName[name]
		if w == nil {
			w = newHDR()
		}
		if r.lines%headerEvery == 0 {
			if _, err := fmt.Fprintln(r.out, tickHeader); err != nil {
				return err
			}
		}
		r.lines++
		rec := tickRecord{
			ElapsedS: now.Sub(r.start).Seconds(),
			Op:       name,
			Ops:      w.TotalCount(),
			P50Ms:    microsToMs(w.ValueAtQuantile(50)),
			P95Ms:    microsToMs(w.ValueAtQuantile(95)),
			P99Ms:    microsToMs(w.ValueAtQuantile(99)),
			MaxMs:    microsToMs(w.Max()),
			Errors:   errors,
			Ramp:     r.ramping,
		}
		if interval > 0 {
			rec.OpsPerSec = float64(rec.Ops) / interval
		}
		if cumSecs > 0 {
			rec.OpsPerSecCum = float64(r.cum[name].TotalCount()) / cumSecs
		}
		if _, err := fmt.Fprintf(r.out, "%7.1fs %8d %14.1f %14.1f %8.2f %8.2f %8.2f %8.2f %s\n",
			rec.ElapsedS, rec.Errors, rec.OpsPerSec, rec.OpsPerSecCum,
			rec.P50Ms, rec.P95Ms, rec.P99Ms, rec.MaxMs, name); err != nil {
			return err
		}
		if r.json != nil {
			if err := r.json.Encode(rec); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *reporter) insertName(name string) {
	r.order = append(r.order, name)
	for i := len(r.order) - 1; i > 0 && r.order[i] < r.order[i-1]; i-- {
		r.order[i], r.order[i-1] = r.order[i-1], r.order[i]
	}
}

// absorb adds windows to the cumulative histograms without printing a line:
// the operations that finished after the last interval line of a run.
func (r *reporter) absorb(windows []namedWindow) {
	for _, w := range windows {
		if w.hist.TotalCount() == 0 {
			continue
		}
		c, ok := r.cum[w.name]
		if !ok {
			c = newHDR()
			r.cum[w.name] = c
			r.insertName(w.name)
		}
		c.Merge(w.hist)
	}
}

// endRamp starts the measured part of the run at now: the cumulative
// histograms and the error count start from zero.
func (r *reporter) endRamp(now time.Time, errors int64) {
	r.ramping = false
	r.cumStart = now
	r.cumErrorsBase = errors
	for _, h := range r.cum {
		h.Reset()
	}
}

func opStats(name string, h *hdrhistogram.Histogram, secs float64) OpStats {
	s := OpStats{
		Name:   name,
		Ops:    h.TotalCount(),
		MeanMs: h.Mean() / 1000,
		P50Ms:  microsToMs(h.ValueAtQuantile(50)),
		P95Ms:  microsToMs(h.ValueAtQuantile(95)),
		P99Ms:  microsToMs(h.ValueAtQuantile(99)),
		MaxMs:  microsToMs(h.Max()),
	}
	if secs > 0 {
		s.OpsPerSec = float64(s.Ops) / secs
	}
	return s
}

// summary computes and prints the final figures of the measured part, which
// ends at now; errors is the run's total error count.
func (r *reporter) summary(now time.Time, errors int64) (Summary, error) {
	secs := now.Sub(r.cumStart).Seconds()
	sum := Summary{Elapsed: now.Sub(r.cumStart), Errors: errors - r.cumErrorsBase}
	all := newHDR()
	for _, name := range r.order {
		h := r.cum[name]
		if h.TotalCount() == 0 {
			continue
		}
		all.Merge(h)
		sum.Ops = append(sum.Ops, opStats(name, h, secs))
	}
	sum.Total = opStats(ResultName, all, secs)
	print := func(label string, rows []OpStats) error {
		if _, err := fmt.Fprintf(r.out, "\n%s__%s\n", summaryHeader, label); err != nil {
			return err
		}
		for _, s := range rows {
			line := fmt.Sprintf("%7.1fs %8d %14d %14.1f %8.2f %8.2f %8.2f %8.2f %8.2f",
				secs, sum.Errors, s.Ops, s.OpsPerSec, s.MeanMs, s.P50Ms, s.P95Ms, s.P99Ms, s.MaxMs)
			if s.Name != ResultName {
				line += "  " + s.Name
			}
			if _, err := fmt.Fprintln(r.out, line); err != nil {
				return err
			}
		}
		return nil
	}
	if err := print("total", sum.Ops); err != nil {
		return sum, err
	}
	if err := print("result", []OpStats{sum.Total}); err != nil {
		return sum, err
	}
	if r.json != nil {
		for _, s := range append(append([]OpStats(nil), sum.Ops...), sum.Total) {
			if err := r.json.Encode(summaryRecord{Summary: true, ElapsedS: secs, Errors: sum.Errors, OpStats: s}); err != nil {
				return sum, err
			}
		}
	}
	return sum, nil
}
