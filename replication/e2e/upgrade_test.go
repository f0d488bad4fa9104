package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
)

// Mixed-version runs (issue 8): a previous-release binary is the module
// built with the link-time override tenant.binaryVersionOverride, next to
// the binary under test. The test does not import tenant: it asks the
// binary under test its release (`vcdb version`) and names the one before
// it the way vcdb does (24.1–24.3, then four releases a year).

var prevBinary struct {
	once    sync.Once
	dir     string
	path    string
	release string
	err     error
}

// vcdbPrevBinary is $VCDB_PREV_BIN if set (its `vcdb version` must be the
// previous release), else the module built once with the override into a
// temporary directory that TestMain removes. It returns the binary and
// its release.
func (e *env) vcdbPrevBinary() (string, string, error) {
	prevBinary.once.Do(func() {
		cur, err := binaryRelease(e.bin)
		if err != nil {
			prevBinary.err = err
			return
		}
		prevBinary.release = previousRelease(cur)
		if p := os.Getenv("VCDB_PREV_BIN"); p != "" {
			prevBinary.path = p
		} else {
			prevBinary.dir, prevBinary.err = os.MkdirTemp("", "vcdb-e2e-prev-bin-")
			if prevBinary.err != nil {
				return
			}
			prevBinary.path = filepath.Join(prevBinary.dir, "vcdb-"+prevBinary.release)
			start := time.Now()
			out, err := exec.Command("go", "build", "-o", prevBinary.path,
				"-ldflags", "-X github.com/vcdb/vcdb/tenant.binaryVersionOverride="+prevBinary.release,
				"github.com/vcdb/vcdb").CombinedOutput()
			if err != nil {
				prevBinary.err = errors.Newf("go build (release %s): %v\n%s", prevBinary.release, err, out)
				return
			}
			e.t.Logf("built the %s binary in %s", prevBinary.release, time.Since(start).Round(time.Millisecond))
		}
		got, err := binaryRelease(prevBinary.path)
		if err != nil {
			prevBinary.err = err
			return
		}
		if got != prevBinary.release {
			prevBinary.err = errors.Newf("%s says release %s, want %s", prevBinary.path, got, prevBinary.release)
		}
	})
	return prevBinary.path, prevBinary.release, prevBinary.err
}

func removePrevBinary() {
	if prevBinary.dir != "" {
		_ = os.RemoveAll(prevBinary.dir)
	}
}

// binaryRelease runs `bin version` ("vcdb v25.2.0") and returns "25.2".
func binaryRelease(bin string) (string, error) {
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		return "", errors.Wrapf(err, "%s version: %s", bin, out)
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v"); ok {
			parts := strings.Split(v, ".")
			if len(parts) >= 2 {
				return parts[0] + "." + parts[1], nil
			}
		}
	}
	return "", errors.Newf("%s version: no version in %q", bin, out)
}

// previousRelease is the release before r ("25.2" → "25.1", "25.1" →
// "24.3", "26.1" → "25.4").
func previousRelease(r string) string {
	y, n, _ := strings.Cut(r, ".")
	yi, _ := strconv.Atoi(y)
	ni, _ := strconv.Atoi(n)
	switch {
	case ni > 1:
		return fmt.Sprintf("%d.%d", yi, ni-1)
	case yi <= 25:
		return fmt.Sprintf("%d.3", yi-1)
	default:
		return fmt.Sprintf("%d.4", yi-1)
	}
}

// useRelease points cluster c at the binary of release "prev" or
// "current" for its next start, and records the releases as $prev and
// $current for scripts.
func (e *env) useRelease(c *cluster, which string) error {
	prev, prevRelease, err := e.vcdbPrevBinary()
	if err != nil {
		return err
	}
	cur, err := binaryRelease(e.bin)
	if err != nil {
		return err
	}
	e.vars["$prev"], e.vars["$current"] = prevRelease, cur
	switch which {
	case "prev":
		c.bin = prev
	case "current", "":
		c.bin = e.bin
	default:
		return errors.Newf("release=%q: want prev or current", which)
	}
	return nil
}

// stopCluster stops a node the way an operator does for a binary
// upgrade: SIGINT, and wait for it.
func (e *env) stopCluster(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(c.log, "=== %s: SIGINT at %s\n", c.name, time.Now().Format(time.RFC3339Nano))
	if c.proc == nil {
		return "", errors.Newf("%s is not running", c.name)
	}
	if err := c.proc.interrupt(); err != nil {
		return "", errors.Wrapf(err, "stopping %s", c.name)
	}
	return "ok", nil
}

// waitVersion polls `SHOW CLUSTER SETTING version` in vc (or, with
// for-vc, `... FOR VIRTUAL CLUSTER for-vc` in the system VC) until it is
// want; it prints the version.
func (e *env) waitVersion(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	vc := e.arg(d, "vc", "system")
	stmt := "SHOW CLUSTER SETTING version"
	if f := e.arg(d, "for-vc", ""); f != "" {
		stmt += " FOR VIRTUAL CLUSTER " + f
	}
	want := e.arg(d, "version", "")
	deadline := time.Now().Add(60 * time.Second)
	var last string
	var lastErr error
	for time.Now().Before(deadline) {
		rows, err := e.query(c, vc, stmt)
		if err == nil && len(rows) == 1 && len(rows[0]) == 1 {
			last = rows[0][0]
			if want == "" || last == want {
				return e.scrub(last), nil
			}
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	return "", errors.Newf("%s on %s/%s: %q, not %q, within 60s (%v)", stmt, c.name, vc, last, want, lastErr)
}

// metricValue prints main's value of a metric on the cluster's /metrics,
// waiting up to 30 s for it to equal want= when given.
func (e *env) metricValue(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	name := e.arg(d, "name", "")
	want := e.arg(d, "want", "")
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := c.metric(e.ctx, name)
		if err != nil {
			return "", err
		}
		v, ok := m["main"]
		got := strconv.FormatFloat(v, 'f', -1, 64)
		if ok && (want == "" || got == want) {
			return got, nil
		}
		if time.Now().After(deadline) {
			return "", errors.Newf("%s of main on %s: %q (present %t), want %q", name, c.name, got, ok, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
