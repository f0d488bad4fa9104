package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
)

// TestPCR runs the scenarios of testdata/ with two real clusters each.
//
// Directives (cluster=primary|standby names a physical cluster; vc= a
// virtual cluster, default system; $name in arguments and input is a
// value recorded by let=):
//
//	start-clusters [proxy] [release=prev]
//	                                make both clusters' certificates (vcdb
//	                                cert, once per run), start the primary
//	                                (--virtualized) and the standby
//	                                (--virtualized-empty); with proxy, a
//	                                TCP proxy to the primary's SQL port;
//	                                with release=prev, both on the
//	                                previous-release binary (upgrade_test.go;
//	                                $prev and $current name the releases)
//	scripts cluster= [let=$v] [quiet] [vc=]
//	                                psql with the input's lines: `-v
//	                                NAME=VALUE` or a file of
//	                                testdata/scripts, run in order; prints
//	                                psql's output (no command tags) or, with
//	                                quiet, ok; let= records the first HLC
//	                                decimal printed (a failover_time) and
//	                                prints it as $v; on error prints the
//	                                error and psql's exit status
//	encode-uri cluster= let=$v [via-proxy]
//	                                vcdb encode-uri repl:PASSWORD@ADDR
//	                                --ca-cert <cluster's ca.crt> --inline
//	sql cluster= [vc=]              psql with the input on stdin; rows,
//	                                or the error with its SQLSTATE
//	vcdb-sql cluster= [vc=] [url=] [certs-dir] [let=$v]
//	                                vcdb sql (root's URL, or url= with
//	                                {primary}/{standby} for the addresses;
//	                                certs-dir adds --certs-dir) with
//	                                the input's lines: `-f FILE` (of
//	                                testdata/scripts) or statements for -e;
//	                                output and errors
//	wait-caught-up cluster=         wait until main is replicating with a
//	                                replicated time after the directive
//	                                started
//	replication-status cluster= [let-retained=$r] [let-replicated=$t]
//	                                SHOW VIRTUAL CLUSTER main WITH
//	                                REPLICATION STATUS, printing the
//	                                columns that do not change from run
//	                                to run
//	workload-init cluster= rows= payload=
//	                                vcdb workload init bank on main
//	workload-start cluster= [max-rate=] [concurrency=]
//	                                vcdb workload run bank on main in the
//	                                background, tolerating errors
//	workload-stop cluster=          SIGINT it and wait
//	workload-run cluster= duration= [max-rate=]
//	workload-check cluster= vc= [as-of=] [repeat=N]
//	                                vcdb workload check bank (the sum of
//	                                balances and none negative)
//	reader-advances cluster=        main-readonly's rows change while the
//	                                primary's workload runs
//	reader-latency [samples=N]      rows written on the primary's main show
//	                                on main-readonly within 3 s
//	reader-frozen cluster=          main-readonly's rows stay the same for
//	                                a second (after a failover)
//	compare-fingerprints to= [from=]
//	                                SHOW EXPERIMENTAL_FINGERPRINTS FROM
//	                                VIRTUAL CLUSTER main [WITH START
//	                                TIMESTAMP = from] AS OF SYSTEM TIME to,
//	                                on both clusters
//	compare-rows as-of= [standby-now]
//	                                bank.bank's rows AS OF SYSTEM TIME on
//	                                both clusters' main (with standby-now,
//	                                the standby's current rows)
//	logical-bytes cluster= let=$v [below=$w fraction=F]
//	                                physical_replication_logical_bytes of
//	                                main from /metrics; with below, checks
//	                                it is under F × $w
//	kill cluster=                   kill -9
//	stop cluster=                   SIGINT, and wait (a binary upgrade)
//	restart cluster= [release=prev|current]
//	                                start again on the same store and ports
//	                                (with release=, on that binary)
//	wait-version cluster= [vc=] [for-vc=] [version=]
//	                                SHOW CLUSTER SETTING version [FOR
//	                                VIRTUAL CLUSTER for-vc] until it shows
//	                                version; prints it
//	metric cluster= name= [want=]   main's value on /metrics (waiting for
//	                                want)
//	proxy-cut duration=             cut the standby's connections to the
//	                                primary for the duration, watching the
//	                                standby's replicated time
//	run-for duration=               let the workload run (load, not a
//	                                synchronization wait)
func TestPCR(t *testing.T) {
	datadriven.Walk(t, *scenarios, func(t *testing.T, path string) {
		defer leaktest.AfterTest(t)()
		e := newEnv(t)
		defer e.close()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			e.t = t
			start := time.Now()
			out, err := e.run(d)
			t.Logf("%s: %s took %s", d.Pos, d.Cmd, time.Since(start).Round(time.Millisecond))
			if err != nil {
				e.dumpLogs()
				d.Fatalf(t, "%v", err)
			}
			return out
		})
	})
}

// scenarios is where TestPCR finds its files; another directory or a
// single file runs other scenarios (go test -run TestPCR -args
// -scenarios=FILE).
var scenarios = flag.String("scenarios", "testdata", "scenario file or directory of TestPCR")

// replUser and replPassword are the replication user setup-primary.sql
// creates; the password has characters that encode-uri must escape.
const (
	replUser     = "repl"
	replPassword = "pcr s3cret/1"
)

type env struct {
	t        *testing.T
	ctx      context.Context
	cancel   context.CancelFunc
	bin      string
	scripts  string
	home     string
	clusters map[string]*cluster
	proxy    *tcpProxy
	vars     map[string]string
	// workloads run in the background, by cluster.
	workloads  map[string]*process
	workLog    *syncBuffer
	logsDumped bool
}

func newEnv(t *testing.T) *env {
	ctx, cancel := context.WithCancel(context.Background())
	return &env{
		t: t, ctx: ctx, cancel: cancel,
		bin:       vcdbBinary(t),
		scripts:   scriptsDir(t),
		home:      t.TempDir(),
		clusters:  map[string]*cluster{},
		vars:      map[string]string{},
		workloads: map[string]*process{},
		workLog:   &syncBuffer{},
	}
}

// close stops every process and the proxy; it runs even when the test
// failed half-way.
func (e *env) close() {
	for name, w := range e.workloads {
		if err := w.kill(); err != nil {
			e.t.Errorf("workload on %s: %v", name, err)
		}
	}
	for _, c := range e.clusters {
		if err := c.kill(); err != nil {
			e.t.Errorf("%v", err)
		}
	}
	if e.proxy != nil {
		e.proxy.close()
	}
	if e.t.Failed() {
		e.dumpLogs()
	}
	e.cancel()
}

func (e *env) dumpLogs() {
	if e.logsDumped {
		return
	}
	e.logsDumped = true
	names := make([]string, 0, len(e.clusters))
	for n := range e.clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e.t.Logf("log of %s:\n%s", n, tail(e.clusters[n].log.String(), 200))
	}
	e.t.Logf("workload log:\n%s", tail(e.workLog.String(), 100))
}

// tail keeps the last n lines.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// expand replaces $names with their recorded values, longest names
// first so that $t does not eat $t2.
func (e *env) expand(s string) string {
	names := make([]string, 0, len(e.vars))
	for n := range e.vars {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, n := range names {
		s = strings.ReplaceAll(s, n, e.vars[n])
	}
	return s
}

// arg returns argument key, expanded, or def.
func (e *env) arg(d *datadriven.TestData, key, def string) string {
	a, ok := d.Arg(key)
	if !ok || len(a.Vals) == 0 {
		return def
	}
	return e.expand(a.Vals[0])
}

// letName returns the variable name of a let-style argument.
func letName(d *datadriven.TestData, key string) string {
	a, ok := d.Arg(key)
	if !ok || len(a.Vals) == 0 {
		return ""
	}
	return a.Vals[0]
}

func (e *env) cluster(d *datadriven.TestData) (*cluster, error) {
	name := e.arg(d, "cluster", "")
	c, ok := e.clusters[name]
	if !ok {
		return nil, errors.Newf("unknown cluster=%q", name)
	}
	return c, nil
}

func (e *env) run(d *datadriven.TestData) (string, error) {
	switch d.Cmd {
	case "start-clusters":
		return e.startClusters(d.HasArg("proxy"), e.arg(d, "release", "current"))
	case "stop":
		return e.stopCluster(d)
	case "wait-version":
		return e.waitVersion(d)
	case "metric":
		return e.metricValue(d)
	case "scripts":
		return e.runScripts(d)
	case "encode-uri":
		return e.encodeURI(d)
	case "sql":
		return e.runSQL(d)
	case "vcdb-sql":
		return e.runVcdbSQL(d)
	case "wait-caught-up":
		return e.waitCaughtUp(d)
	case "replication-status":
		return e.replicationStatus(d)
	case "workload-init", "workload-start", "workload-stop", "workload-run", "workload-check":
		return e.workload(d)
	case "reader-advances":
		return e.readerAdvances(d)
	case "reader-frozen":
		return e.readerFrozen(d)
	case "reader-latency":
		return e.readerLatency(d)
	case "compare-fingerprints":
		return e.compareFingerprints(d)
	case "compare-rows":
		return e.compareRows(d)
	case "logical-bytes":
		return e.logicalBytes(d)
	case "kill":
		c, err := e.cluster(d)
		if err != nil {
			return "", err
		}
		return "ok", c.kill()
	case "restart":
		c, err := e.cluster(d)
		if err != nil {
			return "", err
		}
		if r := e.arg(d, "release", ""); r != "" {
			if err := e.useRelease(c, r); err != nil {
				return "", err
			}
		}
		start := time.Now()
		if err := c.start(); err != nil {
			return "", err
		}
		e.t.Logf("%s restarted in %s", c.name, time.Since(start).Round(time.Millisecond))
		return "ok", nil
	case "proxy-cut":
		return e.proxyCut(d)
	case "run-for":
		dur, err := time.ParseDuration(e.arg(d, "duration", ""))
		if err != nil {
			return "", err
		}
		time.Sleep(dur)
		return "ok", nil
	}
	return "", errors.Newf("unknown directive %s", d.Cmd)
}

func (e *env) startClusters(withProxy bool, release string) (string, error) {
	certs := testCerts(e.t, e.bin)
	e.clusters["primary"] = newCluster(e.t, "primary", e.bin, certs["primary"], "--virtualized")
	e.clusters["standby"] = newCluster(e.t, "standby", e.bin, certs["standby"], "--virtualized-empty")
	if release != "current" {
		for _, n := range []string{"primary", "standby"} {
			if err := e.useRelease(e.clusters[n], release); err != nil {
				return "", err
			}
		}
	}
	for _, n := range []string{"primary", "standby"} {
		if err := e.clusters[n].start(); err != nil {
			return "", err
		}
	}
	if withProxy {
		p, err := newTCPProxy(e.clusters["primary"].sqlAddr())
		if err != nil {
			return "", err
		}
		e.proxy = p
	}
	return "ok", nil
}

// locationLine is psql's LOCATION line of a verbose error.
var locationLine = regexp.MustCompile(`(?m)^LOCATION: .*\n?`)

// hlcDecimal matches an HLC timestamp as SQL prints it (failover_time).
var hlcDecimal = regexp.MustCompile(`\b\d{19}\.\d{10}\b`)

func (e *env) runScripts(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	var args []string
	for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "-v "):
			args = append(args, "-v", e.expand(strings.TrimSpace(strings.TrimPrefix(line, "-v "))))
		default:
			if _, err := os.Stat(filepath.Join(e.scripts, line)); err != nil {
				return "", errors.Newf("no script %s", line)
			}
			args = append(args, "-f", line)
		}
	}
	start := time.Now()
	out, err := psql(e.ctx, e.scripts, e.home, c.url(e.arg(d, "vc", "system")), args...)
	e.t.Logf("psql %s on %s took %s:\n%s", strings.Join(redactArgs(args), " "), c.name,
		time.Since(start).Round(time.Millisecond), pemText.ReplaceAllString(out, "{PEM}"))
	if err != nil {
		return e.scrub(out) + "\n" + psqlExit(err), nil
	}
	if err := e.letHLC(d, out); err != nil {
		return "", err
	}
	if d.HasArg("quiet") {
		return "ok", nil
	}
	return e.scrub(out), nil
}

// psqlExit describes a client's exit status for the expected output.
func psqlExit(err error) string {
	var code int
	var ee interface{ ExitCode() int }
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return fmt.Sprintf("exit status %d", code)
}

// scrub makes output independent of the run: recorded values become
// their names, addresses and paths become placeholders.
func (e *env) scrub(out string) string {
	// Values first (longest first), so that recorded times print as
	// their names.
	type kv struct{ name, val string }
	var vals []kv
	for n, v := range e.vars {
		vals = append(vals, kv{n, v})
	}
	sort.Slice(vals, func(i, j int) bool { return len(vals[i].val) > len(vals[j].val) })
	for _, p := range vals {
		if p.val != "" {
			out = strings.ReplaceAll(out, p.val, p.name)
		}
	}
	out = pemText.ReplaceAllString(out, "{PEM}")
	// psql's VERBOSITY=verbose prints where in the server's source an
	// error was raised, which moves with every change.
	out = locationLine.ReplaceAllString(out, "")
	for _, n := range []string{"primary", "standby"} {
		if c := e.clusters[n]; c != nil {
			out = strings.ReplaceAll(out, c.sqlAddr(), "{"+n+"}")
			out = strings.ReplaceAll(out, c.certs.dir, "{"+n+"-certs}")
		}
	}
	if e.proxy != nil {
		out = strings.ReplaceAll(out, e.proxy.addr(), "{proxy}")
	}
	return strings.TrimRight(out, "\n")
}

func (e *env) encodeURI(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	addr := c.sqlAddr()
	if d.HasArg("via-proxy") {
		if e.proxy == nil {
			return "", errors.New("via-proxy without a proxy (start-clusters proxy)")
		}
		addr = e.proxy.addr()
	}
	// As the seed page: the user and password before the address, the CA
	// of the cluster to reach inlined.
	out, err := runCommand(e.ctx, e.bin, "encode-uri", replUser+":"+replPassword+"@"+addr,
		"--ca-cert", c.certs.caCert(), "--inline")
	if err != nil {
		return "", err
	}
	uri := strings.TrimSpace(out)
	v := letName(d, "let")
	if v == "" {
		return "", errors.New("encode-uri needs let=$name")
	}
	res := e.scrub(uri)
	e.vars[v] = uri
	return res, nil
}

func (e *env) runSQL(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	f := filepath.Join(e.home, "stmt.sql")
	if err := os.WriteFile(f, []byte(e.expand(d.Input)+"\n"), 0o600); err != nil {
		return "", err
	}
	start := time.Now()
	out, err := psql(e.ctx, e.scripts, e.home, c.url(e.arg(d, "vc", "system")), "-f", f)
	e.t.Logf("sql on %s/%s took %s", c.name, e.arg(d, "vc", "system"), time.Since(start).Round(time.Millisecond))
	out = strings.ReplaceAll(out, "psql:"+f+":", "psql:")
	if err != nil {
		return e.scrub(out) + "\n" + psqlExit(err), nil
	}
	return e.scrub(out), nil
}

func (e *env) runVcdbSQL(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	u := c.url(e.arg(d, "vc", "system"))
	if v := e.arg(d, "url", ""); v != "" {
		u = e.expandAddrs(v)
	}
	args := []string{"sql", "--url=" + u}
	if d.HasArg("certs-dir") {
		// The seed page's form: a URL without certificates, and
		// --certs-dir.
		args = append(args, "--certs-dir="+c.certs.dir)
	}
	var stmts []string
	for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
		if f, ok := strings.CutPrefix(line, "-f "); ok {
			args = append(args, "-f", filepath.Join(e.scripts, strings.TrimSpace(f)))
		} else if strings.TrimSpace(line) != "" {
			stmts = append(stmts, e.expand(line))
		}
	}
	if len(stmts) > 0 {
		args = append(args, "-e", strings.Join(stmts, "\n"))
	}
	out, err := runCommand(e.ctx, e.bin, args...)
	out = strings.ReplaceAll(out, e.scripts+"/", "")
	if err != nil {
		return e.scrub(out) + "\n" + psqlExit(err), nil
	}
	if err := e.letHLC(d, out); err != nil {
		return "", err
	}
	return e.scrub(out), nil
}

// expandAddrs replaces {primary} and {standby} with the clusters' SQL
// addresses.
func (e *env) expandAddrs(s string) string {
	for n, c := range e.clusters {
		s = strings.ReplaceAll(s, "{"+n+"}", c.sqlAddr())
	}
	return e.expand(s)
}

// letHLC records the first HLC decimal of out as let='s variable.
func (e *env) letHLC(d *datadriven.TestData, out string) error {
	v := letName(d, "let")
	if v == "" {
		return nil
	}
	ts := hlcDecimal.FindString(out)
	if ts == "" {
		return errors.Newf("no HLC timestamp in the output to record as %s:\n%s", v, out)
	}
	e.vars[v] = ts
	return nil
}

// query runs one statement with psql and returns its rows' fields.
func (e *env) query(c *cluster, vc, stmt string) ([][]string, error) {
	out, err := psql(e.ctx, e.scripts, e.home, c.url(vc), "-F", "|", "-c", stmt)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, "|"))
		}
	}
	return rows, nil
}

// replStatus is one row of SHOW VIRTUAL CLUSTER main WITH REPLICATION
// STATUS.
type replStatus struct {
	sourceName, sourceURI          string
	retained, replicated, lag, fot string
	status                         string
}

const replStatusQuery = `SELECT source_tenant_name, source_cluster_uri, retained_time, replicated_time, ` +
	`replication_lag, failover_time, status FROM [SHOW VIRTUAL CLUSTER main WITH REPLICATION STATUS]`

func (e *env) replStatus(c *cluster) (replStatus, error) {
	rows, err := e.query(c, "system", replStatusQuery)
	if err != nil {
		return replStatus{}, err
	}
	if len(rows) != 1 || len(rows[0]) != 7 {
		return replStatus{}, errors.Newf("SHOW ... WITH REPLICATION STATUS: %q", rows)
	}
	r := rows[0]
	return replStatus{sourceName: r[0], sourceURI: r[1], retained: r[2], replicated: r[3], lag: r[4], fot: r[5], status: r[6]}, nil
}

// pgTimestamptz is how psql prints a TIMESTAMPTZ with PGTZ=UTC.
const pgTimestamptz = "2006-01-02 15:04:05.999999-07"

func parseTimestamptz(s string) (time.Time, error) {
	t, err := time.Parse(pgTimestamptz, s)
	return t, errors.Wrapf(err, "timestamp %q", s)
}

// waitCaughtUp waits until the standby's replicated time passes the time
// the wait began, i.e. it has everything the primary committed before.
func (e *env) waitCaughtUp(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	start := time.Now()
	deadline := start.Add(90 * time.Second)
	var last replStatus
	var lastErr error
	for time.Now().Before(deadline) {
		st, err := e.replStatus(c)
		if err == nil && st.status == "replicating" && st.replicated != "" {
			rt, perr := parseTimestamptz(st.replicated)
			if perr != nil {
				return "", perr
			}
			if !rt.Before(start) {
				e.t.Logf("%s caught up in %s (replicated time %s, lag shown %s)", c.name,
					time.Since(start).Round(time.Millisecond), st.replicated, st.lag)
				return st.status, nil
			}
		}
		last, lastErr = st, err
		time.Sleep(50 * time.Millisecond)
	}
	return "", errors.Newf("%s did not catch up within 90s: last status %+v, error %v", c.name, last, lastErr)
}

func (e *env) replicationStatus(d *datadriven.TestData) (string, error) {
	c, err := e.cluster(d)
	if err != nil {
		return "", err
	}
	st, err := e.replStatus(c)
	if err != nil {
		return "", err
	}
	e.t.Logf("%s: %+v", c.name, st)
	if v := letName(d, "let-retained"); v != "" {
		if st.retained == "" {
			return "", errors.New("no retained_time yet")
		}
		e.vars[v] = st.retained
	}
	if v := letName(d, "let-replicated"); v != "" {
		if st.replicated == "" {
			return "", errors.New("no replicated_time yet")
		}
		e.vars[v] = st.replicated
	}
	// The lag is an INTERVAL; it must parse and be small while
	// replicating.
	lag := "lag: null"
	if st.lag != "" {
		dur, err := parseInterval(st.lag)
		if err != nil {
			return "", err
		}
		lag = "lag: under 10s"
		if dur >= 10*time.Second {
			lag = "lag: " + st.lag
		}
	}
	fot := "failover_time: null"
	if st.fot != "" {
		fot = "failover_time: " + e.scrub(st.fot)
	}
	return fmt.Sprintf("source: %s on %s\nstatus: %s\n%s\n%s", st.sourceName, e.scrub(st.sourceURI), st.status, lag, fot), nil
}

// parseInterval reads psql's text for a short INTERVAL (HH:MM:SS.ffffff,
// possibly negative).
func parseInterval(s string) (time.Duration, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, errors.Newf("interval %q: want HH:MM:SS", s)
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, errors.Newf("interval %q", s)
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec*float64(time.Second))
	if neg {
		d = -d
	}
	return d, nil
}
