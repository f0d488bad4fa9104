package workload

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestReport drives the reporter with a fake clock from
// testdata/workload/report:
//
//	new [ramp]                      a reporter starting at time 0
//	declare op=NAME                 a worker takes an operation's histogram
//	record op=NAME ms=(a,b,...)     latencies recorded by workers
//	tick at=DURATION [errors=N]     one interval ends: prints its lines
//	end-ramp at=DURATION [errors=N] the measured part starts
//	summary at=DURATION [errors=N]  prints the final summary
//	json                            prints the --histograms lines so far
func TestReport(t *testing.T) {
	var (
		t0       = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
		out, js  bytes.Buffer
		hists    *Histograms
		rep      *reporter
		atAndErr = func(t *testing.T, d *datadriven.TestData) (time.Time, int64) {
			var at string
			var errs int64
			d.ScanArgs(t, "at", &at)
			d.MaybeScanArgs(t, "errors", &errs)
			dur, err := time.ParseDuration(at)
			if err != nil {
				t.Fatal(err)
			}
			return t0.Add(dur), errs
		}
	)
	take := func() string {
		s := out.String()
		out.Reset()
		return s
	}
	datadriven.RunTest(t, "../testdata/workload/report", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "new":
			out.Reset()
			js.Reset()
			hists = NewHistograms()
			rep = newReporter(&out, &js, t0, d.HasArg("ramp"))
			return ""
		case "declare":
			var op string
			d.ScanArgs(t, "op", &op)
			hists.Get(op)
			return ""
		case "record":
			var op string
			var ms []string
			d.ScanArgs(t, "op", &op)
			d.ScanArgs(t, "ms", &ms)
			h := hists.Get(op)
			for _, m := range ms {
				f, err := strconv.ParseFloat(m, 64)
				if err != nil {
					t.Fatal(err)
				}
				h.Record(time.Duration(f * float64(time.Millisecond)))
			}
			return ""
		case "tick":
			at, errs := atAndErr(t, d)
			if err := rep.tick(at, hists.tick(), errs); err != nil {
				t.Fatal(err)
			}
			return take()
		case "end-ramp":
			at, errs := atAndErr(t, d)
			rep.endRamp(at, errs)
			return ""
		case "summary":
			at, errs := atAndErr(t, d)
			rep.absorb(hists.tick())
			if _, err := rep.summary(at, errs); err != nil {
				t.Fatal(err)
			}
			return take()
		case "json":
			s := js.String()
			js.Reset()
			return s
		default:
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		}
	})
}
