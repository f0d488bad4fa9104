package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
)

// Load and the checks that end every scenario.

func (e *env) workload(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	vc := e.arg(d, "vc", "main")
	switch d.Cmd {
	case "workload-init":
		_, err := runCommand(e.ctx, e.bin, "workload", "init", "bank", c.seedURL(vc),
			"--rows="+e.arg(d, "rows", "1000"), "--payload-bytes="+e.arg(d, "payload", "100"))
		if err != nil {
			return "", err
		}
		return "ok", nil
	case "workload-start":
		if w := e.workloads[c.name]; w != nil && !w.exited() {
			return "", errors.Newf("a workload runs on %s already", c.name)
		}
		args := []string{"workload", "run", "bank", c.seedURL(vc), "--tolerate-errors",
			"--concurrency=" + e.arg(d, "concurrency", "4"), "--display-every=5s"}
		if r := e.arg(d, "max-rate", ""); r != "" {
			args = append(args, "--max-rate="+r)
		}
		fmt.Fprintf(e.workLog, "=== workload on %s started at %s\n", c.name, time.Now().Format(time.RFC3339Nano))
		p, err := startProcess(e.workLog, "workload on "+c.name, e.bin, args...)
		if err != nil {
			return "", err
		}
		e.workloads[c.name] = p
		return "ok", nil
	case "workload-stop":
		w := e.workloads[c.name]
		if w == nil {
			return "", errors.Newf("no workload on %s", c.name)
		}
		delete(e.workloads, c.name)
		if w.exited() {
			return "", errors.Newf("the workload on %s had stopped by itself: %v", c.name, w.err)
		}
		// The workload tolerates errors (a killed primary), so it exits
		// cleanly on SIGINT with its summary.
		if err := w.interrupt(); err != nil {
			return "", errors.Wrapf(err, "workload on %s", c.name)
		}
		return "ok", nil
	case "workload-run":
		args := []string{"workload", "run", "bank", c.seedURL(vc), "--duration=" + e.arg(d, "duration", "1s"),
			"--concurrency=" + e.arg(d, "concurrency", "2")}
		if r := e.arg(d, "max-rate", ""); r != "" {
			args = append(args, "--max-rate="+r)
		}
		out, err := runCommand(e.ctx, e.bin, args...)
		fmt.Fprintf(e.workLog, "=== workload run on %s/%s:\n%s", c.name, vc, out)
		if err != nil {
			return "", err
		}
		return "ok", nil
	case "workload-check":
		n, err := strconv.Atoi(e.arg(d, "repeat", "1"))
		if err != nil {
			return "", err
		}
		var res string
		for i := 0; i < n; i++ {
			if i > 0 {
				time.Sleep(300 * time.Millisecond)
			}
			args := []string{"workload", "check", "bank", c.seedURL(vc)}
			if asOf := e.arg(d, "as-of", ""); asOf != "" {
				args = append(args, "--as-of="+asOf)
			}
			out, err := runCommand(e.ctx, e.bin, args...)
			if err != nil {
				return "", err
			}
			m := bankOK.FindStringSubmatch(out)
			if m == nil {
				return "", errors.Newf("unexpected check output: %s", out)
			}
			res = fmt.Sprintf("ok: %s accounts, total %s", m[1], m[2])
		}
		return res, nil
	}
	return "", errors.Newf("unknown %s", d.Cmd)
}

// bankOK is `vcdb workload check bank`'s success line.
var bankOK = regexp.MustCompile(`bank: OK: (\d+) accounts, total balance (\d+) \(expected (\d+)\)`)

const bankRowsQuery = `SELECT id, balance, payload FROM bank.bank ORDER BY id`

// readerAdvances checks that main-readonly follows the primary: its rows
// change within a few seconds while the workload runs.
func (e *env) readerAdvances(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	first, err := e.query(c, "main-readonly", bankRowsQuery)
	if err != nil {
		return "", err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		rows, err := e.query(c, "main-readonly", bankRowsQuery)
		if err != nil {
			return "", err
		}
		if fmt.Sprint(rows) != fmt.Sprint(first) {
			return "advanced", nil
		}
	}
	return "", errors.New("main-readonly showed the same rows for 30s while the primary's workload ran")
}

// readerLatency writes a row on the primary's main and measures how soon
// main-readonly shows it (the replication lag plus how far the read-only
// view trails the replicated time, at most 1 s by the contract), a few
// times. psql's start-up (tens of milliseconds) is part of each
// measurement.
func (e *env) readerLatency(d *datadriven.TestData) (string, error) {
	primary, standby := e.clusters["primary"], e.clusters["standby"]
	n, err := strconv.Atoi(e.arg(d, "samples", "5"))
	if err != nil {
		return "", err
	}
	if _, err := e.query(primary, "main", "CREATE TABLE IF NOT EXISTS defaultdb.marker (k INT PRIMARY KEY, at STRING)"); err != nil {
		return "", err
	}
	var worst time.Duration
	var seen []string
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := e.query(primary, "main", fmt.Sprintf("INSERT INTO defaultdb.marker VALUES (%d, now()::STRING)", i)); err != nil {
			return "", err
		}
		committed := time.Now()
		for {
			rows, err := e.query(standby, "main-readonly", fmt.Sprintf("SELECT k FROM defaultdb.marker WHERE k = %d", i))
			if err == nil && len(rows) == 1 {
				break
			}
			if time.Since(start) > 30*time.Second {
				return "", errors.Newf("row %d not on main-readonly after 30s (last error %v)", i, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		took := time.Since(committed)
		seen = append(seen, took.Round(time.Millisecond).String())
		if took > worst {
			worst = took
		}
	}
	e.t.Logf("commit on the primary to visible on main-readonly (psql round trips included): %s", strings.Join(seen, ", "))
	if worst > 3*time.Second {
		return fmt.Sprintf("a row took %s to show on main-readonly", worst.Round(time.Millisecond)), nil
	}
	return "every row showed on main-readonly within 3s", nil
}

// readerFrozen checks that main-readonly no longer changes after a
// failover to the latest time, although the old primary still takes
// writes.
func (e *env) readerFrozen(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	first, err := e.query(c, "main-readonly", bankRowsQuery)
	if err != nil {
		return "", err
	}
	time.Sleep(time.Second)
	second, err := e.query(c, "main-readonly", bankRowsQuery)
	if err != nil {
		return "", err
	}
	if fmt.Sprint(first) != fmt.Sprint(second) {
		return "main-readonly changed after the failover", nil
	}
	return "frozen", nil
}

func (e *env) compareFingerprints(d *datadriven.TestData) (string, error) {
	to := e.arg(d, "to", "")
	if to == "" {
		return "", errors.New("compare-fingerprints needs to=")
	}
	opt := ""
	if from := e.arg(d, "from", ""); from != "" {
		opt = fmt.Sprintf(" WITH START TIMESTAMP = '%s'", from)
	}
	// The query of CockroachDB's c2c roachtests (CRDB-PCR-FACTS §5.6).
	q := fmt.Sprintf(`SELECT fingerprint FROM [SHOW EXPERIMENTAL_FINGERPRINTS FROM VIRTUAL CLUSTER main%s] AS OF SYSTEM TIME '%s'`, opt, to)
	var fps []string
	for _, n := range []string{"primary", "standby"} {
		rows, err := e.query(e.clusters[n], "system", q)
		if err != nil {
			return "", err
		}
		if len(rows) != 1 || len(rows[0]) != 1 {
			return "", errors.Newf("%s: fingerprint rows %q", n, rows)
		}
		fps = append(fps, rows[0][0])
	}
	e.t.Logf("fingerprints%s as of %s: primary %s, standby %s", opt, to, fps[0], fps[1])
	if fps[0] != fps[1] {
		return fmt.Sprintf("different: primary %s, standby %s", fps[0], fps[1]), nil
	}
	if fps[0] == "0" {
		return "equal but empty (0)", nil
	}
	return "equal", nil
}

// compareRows compares bank.bank as of a time on both clusters: every
// row committed at or below it on the primary must be on the standby.
func (e *env) compareRows(d *datadriven.TestData) (string, error) {
	asOf := e.arg(d, "as-of", "")
	if asOf == "" {
		return "", errors.New("compare-rows needs as-of=")
	}
	q := fmt.Sprintf(`SELECT id, balance, payload FROM bank.bank AS OF SYSTEM TIME '%s' ORDER BY id`, asOf)
	var res [2][][]string
	for i, n := range []string{"primary", "standby"} {
		q := q
		if n == "standby" && d.HasArg("standby-now") {
			q = bankRowsQuery
		}
		rows, err := e.query(e.clusters[n], "main", q)
		if err != nil {
			return "", err
		}
		res[i] = rows
	}
	if len(res[0]) != len(res[1]) {
		return fmt.Sprintf("different: primary has %d rows, standby %d", len(res[0]), len(res[1])), nil
	}
	for i := range res[0] {
		if strings.Join(res[0][i], "|") != strings.Join(res[1][i], "|") {
			return fmt.Sprintf("different: row %d: primary %q, standby %q", i, res[0][i], res[1][i]), nil
		}
	}
	return fmt.Sprintf("equal: %d rows", len(res[0])), nil
}

// logicalBytes reads physical_replication_logical_bytes of main.
func (e *env) logicalBytes(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	m, err := c.metric(e.ctx, "physical_replication_logical_bytes")
	if err != nil {
		return "", err
	}
	v, ok := m["main"]
	if !ok {
		return "", errors.Newf("%s: no physical_replication_logical_bytes for main in /metrics (%v)", c.name, m)
	}
	name := letName(d, "let")
	if name == "" {
		return "", errors.New("logical-bytes needs let=$name")
	}
	e.vars[name] = strconv.FormatInt(int64(v), 10)
	e.t.Logf("%s: physical_replication_logical_bytes{tenant=main} = %d", c.name, int64(v))
	out := fmt.Sprintf("%s > 0", name)
	if v <= 0 {
		out = fmt.Sprintf("%s = %d", name, int64(v))
	}
	if w := letName(d, "below"); w != "" {
		ref, err := strconv.ParseFloat(e.vars[w], 64)
		if err != nil {
			return "", errors.Newf("below=%s: %v", w, err)
		}
		frac, err := strconv.ParseFloat(e.arg(d, "fraction", "0.1"), 64)
		if err != nil {
			return "", err
		}
		e.t.Logf("%s = %d is %.2f%% of %s = %d", name, int64(v), 100*v/ref, w, int64(ref))
		if v < frac*ref {
			out += fmt.Sprintf("\n%s < %g × %s", name, frac, w)
		} else {
			out += fmt.Sprintf("\n%s = %d is not below %g × %s = %d", name, int64(v), frac, w, int64(ref))
		}
	}
	return out, nil
}

// proxyCut cuts the standby's connections to the primary for a while and
// checks that the standby's replicated time stood still meanwhile (it
// must not claim data it could not receive) and that the standby kept
// trying to reconnect.
func (e *env) proxyCut(d *datadriven.TestData) (string, error) {
	if e.proxy == nil {
		return "", errors.New("no proxy (start-clusters proxy)")
	}
	dur, err := time.ParseDuration(e.arg(d, "duration", "10s"))
	if err != nil {
		return "", err
	}
	standby := e.clusters["standby"]
	_, refusedBefore := e.proxy.counts()
	cutAt := time.Now()
	e.proxy.cut()
	statuses := map[string]bool{}
	var lastReplicated string
	for time.Since(cutAt) < dur {
		time.Sleep(500 * time.Millisecond)
		st, err := e.replStatus(standby)
		if err != nil {
			e.proxy.restore()
			return "", err
		}
		statuses[st.status] = true
		lastReplicated = st.replicated
	}
	e.proxy.restore()
	_, refusedAfter := e.proxy.counts()
	e.t.Logf("during the %s cut: statuses %v, last replicated time %s, %d connections refused",
		dur, statuses, lastReplicated, refusedAfter-refusedBefore)
	var lines []string
	rt, err := parseTimestamptz(lastReplicated)
	if err != nil {
		return "", err
	}
	// Checkpoints already in flight may land just after the cut; none
	// can carry a time after it.
	if rt.After(cutAt.Add(50 * time.Millisecond)) {
		lines = append(lines, fmt.Sprintf("replicated time %s moved past the cut at %s", lastReplicated, cutAt.UTC()))
	} else {
		lines = append(lines, "replicated time held during the cut")
	}
	if refusedAfter > refusedBefore {
		lines = append(lines, "the standby tried to reconnect during the cut")
	} else {
		lines = append(lines, "the standby did not try to reconnect during the cut")
	}
	return strings.Join(lines, "\n"), nil
}
