package server

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vcdb/vcdb/certs"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/replication"
	"github.com/vcdb/vcdb/sql"
)

// TestReplicationDataDriven runs the SQL-level replication scenarios of
// testdata/server/replication: two physical clusters in one process,
// "primary" (--virtualized) and "standby" (--virtualized-empty), each a
// real node on loopback; the standby's consumer reaches the primary
// through the real wire server with pgconn (TLS and SCRAM with `secure`),
// exactly as between two machines. Statements run through pgx's simple
// protocol as a psql user would type them.
//
// Vocabulary (STYLE.md's; cluster= defaults to primary for SQL and to
// standby for replication commands; vc= defaults to system for SQL and to
// main for replication commands; as= is the user, default root):
//
//	create-clusters [secure] [disk]  start both; $primary_uri and $standby_uri
//	                                 are the URIs of user repl (password
//	                                 repl-pw) on each system VC, as
//	                                 `vcdb encode-uri --inline` prints them
//	exec-sql [cluster=] [vc=] [as=] [password=]
//	                                 run the input (several statements); print
//	                                 each one's rows or tag, or the error
//	wait-sql [cluster=] [vc=] [as=]  exec-sql, retried until its output is the
//	                                 expected one (bounded)
//	let $x [cluster=] [vc=] [as=]    run a query of one value and name it
//	now $t [cluster=primary]         name the cluster's current HLC time
//	wait-until-replicated-time [cluster=] [vc=] [ts=$t]
//	                                 until replicated_time ≥ ts (default: the
//	                                 primary's time now)
//	wait-status [cluster=] [vc=] status=replication_paused
//	                                 until SHOW ... WITH REPLICATION STATUS says
//	                                 so (underscores for spaces)
//	pause | resume [vc=]             PAUSE/RESUME REPLICATION, then wait for
//	                                 the status
//	complete-replication [vc=] ts=latest|$t [nowait]
//	                                 COMPLETE REPLICATION; names $failover and
//	                                 waits for data_state ready
//	compare-fingerprints [src=primary] [dst=standby] [vc=main] [src-vc=main]
//	                     [from=$t] to=$t
//	metrics [cluster=]               physical_replication_* samples of
//	                                 /metrics (values: 0 or >0)
//	hold-revert | release-revert     hold failover reverts after their first
//	                                 chunk of 10 keys (to observe "replication
//	                                 failing over"), and let them go
//	producer-jobs [cluster=primary]  the producer's jobs: kind, VC, status
//	logical-bytes [cluster=] [vc=] max=N
//	                                 whether physical_replication_logical_bytes
//	                                 of the VC is at most N (failback moves
//	                                 only what changed)
//	restart cluster= [graceful]      shut the node down and start it again on
//	                                 its store (disk only); graceful: with
//	                                 Node.Shutdown (drain first, as SIGINT
//	                                 does), printing whether the drain ended
//	                                 well before its timeout
//	stop cluster=                    stop the node at once (Node.Close) for
//	                                 the rest of the scenario
//	producer-streams [cluster=primary]
//	                                 how many partition streams run now
//
// Output is made deterministic: decimal HLC times print as <hlc>,
// timestamps as <timestamp>, intervals as <interval>, ports as <port>.
func TestReplicationDataDriven(t *testing.T) {
	defer leaktest.AfterTest(t)()
	datadriven.Walk(t, "../testdata/server/replication", func(t *testing.T, path string) {
		r := &replHarness{t: t, vars: map[string]string{}, conns: map[string]*pgconn.PgConn{}}
		defer r.close()
		datadriven.RunTest(t, path, r.run)
	})
}

// replTestKnobs make the test clusters react in milliseconds: heartbeats
// (which move the retained time) every 20 ms, quick retries.
// Reverts go in chunks of 10 keys, and each chunk waits while the
// harness holds its revert gate (hold-revert), so that a failover can be
// observed in "replication failing over".
func (r *replHarness) replTestKnobs() sql.ReplicationKnobs {
	return sql.ReplicationKnobs{
		Consumer: func(c *replication.ConsumerConfig) {
			c.HeartbeatInterval = 20 * time.Millisecond
			c.Retry = replication.RetryPolicy{MaxRetries: 8, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
			c.SourceCompleteTimeout = 2 * time.Second
			c.RevertChunkKeys = 10
			c.Knobs.AfterRevertChunk = func(int) error {
				r.gateMu.Lock()
				gate := r.revertGate
				r.gateMu.Unlock()
				if gate != nil {
					<-gate
				}
				return nil
			}
		},
	}
}

type replCluster struct {
	name     string
	node     *Node
	cfg      NodeConfig
	certsDir string
}

type replHarness struct {
	t        *testing.T
	clusters map[string]*replCluster
	secure   bool
	root     string
	vars     map[string]string
	conns    map[string]*pgconn.PgConn

	// drainTimeout, when set, is the nodes' NodeConfig.DrainTimeout
	// (create-clusters drain-timeout=); 2 s otherwise.
	drainTimeout time.Duration

	// revertGate, while non-nil, holds failover reverts after their first
	// chunk until it is closed.
	gateMu     sync.Mutex
	revertGate chan struct{}
}

func (r *replHarness) releaseRevert() {
	r.gateMu.Lock()
	defer r.gateMu.Unlock()
	if r.revertGate != nil {
		close(r.revertGate)
		r.revertGate = nil
	}
}

func (r *replHarness) close() {
	r.releaseRevert()
	for _, c := range r.conns {
		_ = c.Close(context.Background())
	}
	// The standby first: its consumer streams from the primary.
	for _, name := range []string{"standby", "primary"} {
		if c := r.clusters[name]; c != nil && c.node != nil {
			c.node.Close()
		}
	}
	if r.root != "" {
		_ = os.RemoveAll(r.root)
	}
}

func (r *replHarness) arg(d *datadriven.TestData, key, def string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			if len(a.Vals) == 0 {
				return ""
			}
			return r.expand(a.Vals[0])
		}
	}
	return def
}

var varRE = regexp.MustCompile(`\$[a-z_][a-z0-9_]*`)

// expand substitutes the named values ($name) in s.
func (r *replHarness) expand(s string) string {
	return varRE.ReplaceAllStringFunc(s, func(v string) string {
		if val, ok := r.vars[v[1:]]; ok {
			return val
		}
		return v
	})
}

var (
	hlcRE       = regexp.MustCompile(`\b\d{19}\.\d{10}\b`)
	timestampRE = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?(\+|-)\d\d(:\d\d)?`)
	intervalRE  = regexp.MustCompile(`\b-?\d\d:\d\d:\d\d(\.\d+)?\b`)
	portRE      = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

func scrubRepl(s string) string {
	s = hlcRE.ReplaceAllString(s, "<hlc>")
	s = timestampRE.ReplaceAllString(s, "<timestamp>")
	s = intervalRE.ReplaceAllString(s, "<interval>")
	return portRE.ReplaceAllString(s, "127.0.0.1:<port>")
}

func (r *replHarness) run(t *testing.T, d *datadriven.TestData) string {
	if os.Getenv("REPL_TRACE") != "" {
		defer func(start time.Time) { t.Logf("%s %s: %s", d.Pos, d.Cmd, time.Since(start)) }(time.Now())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	switch d.Cmd {
	case "create-clusters":
		if v := r.arg(d, "drain-timeout", ""); v != "" {
			dt, err := time.ParseDuration(v)
			if err != nil {
				t.Fatal(err)
			}
			r.drainTimeout = dt
		}
		r.createClusters(t, d.HasArg("secure"), d.HasArg("disk"))
		return ""
	case "exec-sql":
		out := r.execSQL(ctx, t, r.arg(d, "cluster", "primary"), r.arg(d, "vc", "system"),
			r.arg(d, "as", "root"), r.arg(d, "password", ""), r.expand(d.Input))
		return scrubRepl(out)
	case "wait-sql":
		// Retried until its output is the expected one (bounded).
		run := func() string {
			return scrubRepl(r.execSQL(ctx, t, r.arg(d, "cluster", "primary"), r.arg(d, "vc", "system"),
				r.arg(d, "as", "root"), r.arg(d, "password", ""), r.expand(d.Input)))
		}
		out := run()
		if f := flag.Lookup("rewrite"); f != nil && f.Value.String() == "true" {
			return out
		}
		for deadline := time.Now().Add(30 * time.Second); out != d.Expected && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
			out = run()
		}
		return out
	case "let":
		name := strings.TrimPrefix(d.CmdArgs[0].Key, "$")
		v, err := r.queryValue(ctx, t, r.arg(d, "cluster", "primary"), r.arg(d, "vc", "system"), r.arg(d, "as", "root"), r.expand(d.Input))
		if err != nil {
			return "error: " + err.Error()
		}
		r.vars[name] = v
		return ""
	case "now":
		name := strings.TrimPrefix(d.CmdArgs[0].Key, "$")
		r.vars[name] = r.now(ctx, t, r.arg(d, "cluster", "primary"))
		return ""
	case "wait-until-replicated-time":
		ts := r.arg(d, "ts", "")
		if ts == "" {
			ts = r.now(ctx, t, "primary")
		}
		r.waitReplicated(ctx, t, r.arg(d, "cluster", "standby"), r.arg(d, "vc", "main"), ts)
		return ""
	case "wait-status":
		r.waitStatus(ctx, t, r.arg(d, "cluster", "standby"), r.arg(d, "vc", "main"),
			strings.ReplaceAll(r.arg(d, "status", ""), "_", " "))
		return ""
	case "pause", "resume":
		cluster, vc := r.arg(d, "cluster", "standby"), r.arg(d, "vc", "main")
		verb, want := "PAUSE", "replication paused"
		if d.Cmd == "resume" {
			verb, want = "RESUME", "replicating"
		}
		if out := r.execSQL(ctx, t, cluster, "system", "root", "",
			fmt.Sprintf("ALTER VIRTUAL CLUSTER %q %s REPLICATION", vc, verb)); strings.Contains(out, "error") {
			return out
		}
		r.waitStatus(ctx, t, cluster, vc, want)
		return ""
	case "complete-replication":
		return r.completeReplication(ctx, t, d)
	case "compare-fingerprints":
		return r.compareFingerprints(ctx, t, d)
	case "metrics":
		return r.metrics(t, r.arg(d, "cluster", "standby"))
	case "hold-revert":
		r.gateMu.Lock()
		r.revertGate = make(chan struct{})
		r.gateMu.Unlock()
		return ""
	case "release-revert":
		r.releaseRevert()
		return ""
	case "producer-jobs":
		return r.producerJobs(ctx, t, r.arg(d, "cluster", "primary"))
	case "logical-bytes":
		return r.logicalBytes(t, r.arg(d, "cluster", "standby"), r.arg(d, "vc", "main"), r.arg(d, "max", ""))
	case "restart":
		return r.restart(t, r.arg(d, "cluster", ""), d.HasArg("graceful"))
	case "stop":
		c := r.cluster(t, r.arg(d, "cluster", ""))
		for key, conn := range r.conns {
			if strings.HasPrefix(key, c.name+"/") {
				_ = conn.Close(context.Background())
				delete(r.conns, key)
			}
		}
		c.node.Close()
		c.node = nil
		return ""
	case "producer-streams":
		return fmt.Sprintf("%d\n", r.cluster(t, r.arg(d, "cluster", "primary")).node.Host().Producer().ActiveStreams())
	}
	t.Fatalf("unknown directive %s", d.Cmd)
	return ""
}

func (r *replHarness) createClusters(t *testing.T, secure, disk bool) {
	r.secure = secure
	root, err := os.MkdirTemp("", "vcdb-repl-")
	if err != nil {
		t.Fatal(err)
	}
	r.root = root
	r.clusters = map[string]*replCluster{}
	for _, name := range []string{"primary", "standby"} {
		c := &replCluster{name: name}
		c.cfg = NodeConfig{
			InMemory: !disk, StoreDir: filepath.Join(root, name, "store"),
			ListenAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Insecure: !secure,
			Init: sql.InitVirtualized, Logf: r.logf,
			Replication: r.replTestKnobs(), DrainTimeout: 2 * time.Second,
		}
		if r.drainTimeout != 0 {
			c.cfg.DrainTimeout = r.drainTimeout
		}
		if name == "standby" {
			c.cfg.Init = sql.InitVirtualizedEmpty
		}
		if secure {
			// Each cluster its own CA, as CRDB-PCR-FACTS §2.3 advises: the
			// other side's CA travels inline in the source URI.
			c.certsDir = filepath.Join(root, name, "certs")
			caKey := filepath.Join(root, name, "safe", "ca.key")
			if err := certs.CreateCA(c.certsDir, caKey, certs.Options{}); err != nil {
				t.Fatal(err)
			}
			if err := certs.CreateNode(c.certsDir, caKey, []string{"127.0.0.1", "localhost"}, certs.Options{}); err != nil {
				t.Fatal(err)
			}
			if err := certs.CreateClient(c.certsDir, caKey, "root", certs.Options{}); err != nil {
				t.Fatal(err)
			}
			c.cfg.CertsDir = c.certsDir
			c.cfg.PasswordMethod = PasswordSCRAM
		}
		node, err := StartNode(context.Background(), c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.node = node
		r.clusters[name] = c
		r.vars[name+"_uri"] = r.sourceURI(t, c, "repl", "repl-pw")
		r.vars[name+"_addr"] = node.SQLAddr().String()
	}
}

// sourceURI is the URI of user on c's system VC, as `vcdb encode-uri
// user:password@host --ca-cert ca.crt --inline` prints it.
func (r *replHarness) sourceURI(t *testing.T, c *replCluster, user, password string) string {
	addr := c.node.SQLAddr().String()
	if !r.secure {
		return fmt.Sprintf("postgresql://%s:%s@%s/defaultdb?options=-ccluster%%3Dsystem&sslmode=disable", user, password, addr)
	}
	u, err := certs.EncodeURI(user+":"+password+"@"+addr, certs.EncodeOptions{
		CACert: filepath.Join(c.certsDir, certs.CACertFilename), Inline: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (r *replHarness) cluster(t *testing.T, name string) *replCluster {
	c := r.clusters[name]
	if c == nil {
		t.Fatalf("no cluster %q (create-clusters first)", name)
	}
	return c
}

// conn returns a cached connection of user to vc of cluster.
func (r *replHarness) conn(ctx context.Context, t *testing.T, cluster, vc, user, password string) (*pgconn.PgConn, error) {
	key := connKey(cluster, vc, user, password)
	if c := r.conns[key]; c != nil && !c.IsClosed() {
		return c, nil
	}
	cl := r.cluster(t, cluster)
	u := fmt.Sprintf("postgresql://%s@%s/defaultdb?options=-ccluster%%3D%s", user, cl.node.SQLAddr(), vc)
	if r.secure {
		u = fmt.Sprintf("postgresql://%s@127.0.0.1:%s/defaultdb?options=-ccluster%%3D%s&sslmode=verify-full&sslrootcert=%s",
			user, portOf(cl.node.SQLAddr().String()), vc, filepath.Join(cl.certsDir, certs.CACertFilename))
		if user == "root" {
			u += "&sslcert=" + filepath.Join(cl.certsDir, certs.ClientCertFilename("root")) +
				"&sslkey=" + filepath.Join(cl.certsDir, certs.ClientKeyFilename("root"))
		} else {
			if password == "" {
				password = "pw"
			}
			u = strings.Replace(u, user+"@", user+":"+password+"@", 1)
		}
	} else {
		u += "&sslmode=disable"
	}
	cfg, err := certs.ParseURI(u)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.conns[key] = c
	return c, nil
}

func connKey(cluster, vc, user, password string) string {
	return strings.Join([]string{cluster, vc, user, password}, "/")
}

func portOf(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

func replErr(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		s := fmt.Sprintf("error: %s %s", pe.Code, pe.Message)
		if pe.Hint != "" {
			s += "\nHINT: " + pe.Hint
		}
		return s + "\n"
	}
	return "error: " + err.Error() + "\n"
}

// execSQL runs a script through the simple protocol and prints, per
// statement, its rows (values separated by " | ", NULL as NULL) or its
// tag; an error ends the script.
func (r *replHarness) execSQL(ctx context.Context, t *testing.T, cluster, vc, user, password, script string) string {
	out, terminated := r.execSQLOnce(ctx, t, cluster, vc, user, password, script)
	if terminated {
		// The cached connection belonged to a service stopped since (a
		// failback stops main): a user would reconnect.
		out, _ = r.execSQLOnce(ctx, t, cluster, vc, user, password, script)
	}
	return out
}

func (r *replHarness) execSQLOnce(ctx context.Context, t *testing.T, cluster, vc, user, password, script string) (string, bool) {
	c, err := r.conn(ctx, t, cluster, vc, user, password)
	if err != nil {
		return replErr(err), false
	}
	results, err := c.Exec(ctx, script).ReadAll()
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "57P01" && len(results) == 0 {
		_ = c.Close(ctx)
		delete(r.conns, connKey(cluster, vc, user, password))
		return "", true
	}
	var b strings.Builder
	for _, res := range results {
		if len(res.FieldDescriptions) > 0 {
			for _, row := range res.Rows {
				vals := make([]string, len(row))
				for i, v := range row {
					if v == nil {
						vals[i] = "NULL"
					} else {
						vals[i] = string(v)
					}
				}
				b.WriteString(strings.Join(vals, " | ") + "\n")
			}
		} else if res.Err == nil {
			b.WriteString(res.CommandTag.String() + "\n")
		}
		if res.Err != nil {
			err = res.Err
		}
	}
	if err != nil {
		b.WriteString(replErr(err))
	}
	return b.String(), false
}

// queryValue runs a query returning one value.
func (r *replHarness) queryValue(ctx context.Context, t *testing.T, cluster, vc, user, query string) (string, error) {
	c, err := r.conn(ctx, t, cluster, vc, user, "")
	if err != nil {
		return "", err
	}
	results, err := c.Exec(ctx, query).ReadAll()
	if err != nil {
		return "", err
	}
	if len(results) != 1 || len(results[0].Rows) != 1 || len(results[0].Rows[0]) != 1 {
		return "", errors.Newf("query %q did not return one value", query)
	}
	return string(results[0].Rows[0][0]), nil
}

func (r *replHarness) mustValue(ctx context.Context, t *testing.T, cluster, vc, query string) string {
	t.Helper()
	v, err := r.queryValue(ctx, t, cluster, vc, "root", query)
	if err != nil {
		t.Fatalf("%s on %s: %v", query, cluster, err)
	}
	return v
}

func (r *replHarness) now(ctx context.Context, t *testing.T, cluster string) string {
	return r.mustValue(ctx, t, cluster, "system", "SELECT cluster_logical_timestamp()")
}

// succeedsSoon retries fn every 5 ms for up to 30 s.
func succeedsSoon(t *testing.T, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("condition not met within 30s: %v", err)
}

// waitReplicated waits until the standby's persisted replicated time is
// at or above ts. SHOW truncates the time to microseconds, which cannot
// show the logical part that separates two times of the same wall time (a
// restarted primary's clock starts ahead of the wall clock and counts in
// logical ticks until the wall clock catches up), so this asks the
// consumer the Status behind SHOW.
func (r *replHarness) waitReplicated(ctx context.Context, t *testing.T, cluster, vc, ts string) {
	want, err := kv.ParseTimestamp(ts)
	if err != nil {
		t.Fatalf("bad time %q: %v", ts, err)
	}
	h := r.cluster(t, cluster).node.Host()
	succeedsSoon(t, func() error {
		rec, err := h.Store().GetByName(ctx, nil, vc)
		if err != nil {
			return err
		}
		st, err := h.Consumer().Status(ctx, rec.ID)
		if err != nil {
			return err
		}
		if st == nil || st.ReplicatedTime.Less(want) {
			return errors.Newf("replicated time %v, want %s", st, want)
		}
		return nil
	})
}

func (r *replHarness) status(ctx context.Context, t *testing.T, cluster, vc string) (string, error) {
	return r.queryValue(ctx, t, cluster, "system", "root",
		fmt.Sprintf("SELECT status FROM [SHOW VIRTUAL CLUSTER %q WITH REPLICATION STATUS]", vc))
}

func (r *replHarness) waitStatus(ctx context.Context, t *testing.T, cluster, vc, want string) {
	succeedsSoon(t, func() error {
		got, err := r.status(ctx, t, cluster, vc)
		if err != nil {
			return err
		}
		if got != want {
			return errors.Newf("status %q, want %q", got, want)
		}
		return nil
	})
}

func (r *replHarness) completeReplication(ctx context.Context, t *testing.T, d *datadriven.TestData) string {
	cluster, vc := r.arg(d, "cluster", "standby"), r.arg(d, "vc", "main")
	ts := r.arg(d, "ts", "latest")
	target := "LATEST"
	if ts != "latest" {
		target = fmt.Sprintf("SYSTEM TIME '%s'", ts)
	}
	v, err := r.queryValue(ctx, t, cluster, "system", "root",
		fmt.Sprintf("ALTER VIRTUAL CLUSTER %q COMPLETE REPLICATION TO %s", vc, target))
	if err != nil {
		return scrubRepl(replErr(err))
	}
	r.vars["failover"] = v
	out := ""
	if hlcRE.MatchString(ts) && v != ts {
		out = fmt.Sprintf("failover_time %s differs from the requested %s\n", v, ts)
	}
	if d.HasArg("nowait") {
		return out
	}
	succeedsSoon(t, func() error {
		st, err := r.queryValue(ctx, t, cluster, "system", "root",
			fmt.Sprintf("SELECT data_state FROM [SHOW VIRTUAL CLUSTER %q]", vc))
		if err != nil {
			return err
		}
		if st != "ready" {
			return errors.Newf("data_state %q", st)
		}
		return nil
	})
	return out
}

// compareFingerprints compares the fingerprints of a VC on two clusters
// at the same time, with revisions over (from, to] when from is given.
func (r *replHarness) compareFingerprints(ctx context.Context, t *testing.T, d *datadriven.TestData) string {
	src, dst := r.arg(d, "src", "primary"), r.arg(d, "dst", "standby")
	vc := r.arg(d, "vc", "main")
	srcVC := r.arg(d, "src-vc", vc)
	from, to := r.arg(d, "from", ""), r.arg(d, "to", "")
	if to == "" {
		t.Fatal("compare-fingerprints needs to=")
	}
	q := func(name string) string {
		opt := ""
		if from != "" {
			opt = fmt.Sprintf(" WITH START TIMESTAMP = '%s'", from)
		}
		return fmt.Sprintf("SELECT fingerprint FROM [SHOW EXPERIMENTAL_FINGERPRINTS FROM VIRTUAL CLUSTER %q%s] AS OF SYSTEM TIME '%s'", name, opt, to)
	}
	a, err := r.queryValue(ctx, t, src, "system", "root", q(srcVC))
	if err != nil {
		return scrubRepl(replErr(err))
	}
	b, err := r.queryValue(ctx, t, dst, "system", "root", q(vc))
	if err != nil {
		return scrubRepl(replErr(err))
	}
	if a != b {
		return fmt.Sprintf("fingerprints differ: %s %s, %s %s\n", src, a, dst, b)
	}
	return "fingerprints equal\n"
}

// metrics prints the physical_replication_* samples of /metrics, values
// reduced to 0 or >0.
func (r *replHarness) metrics(t *testing.T, cluster string) string {
	body := httpBody(t, "http://"+r.cluster(t, cluster).node.HTTPAddr().String()+"/metrics")
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		if !strings.HasPrefix(l, "physical_replication_") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v := l[i+1:]
		if v != "0" {
			v = ">0"
		}
		lines = append(lines, l[:i]+" "+v)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// restart shuts a cluster's node down and starts it again on its store at
// the same addresses (so that URIs naming it stay valid).
func (r *replHarness) restart(t *testing.T, name string, graceful bool) string {
	c := r.cluster(t, name)
	if c.cfg.InMemory {
		t.Fatal("restart needs create-clusters disk")
	}
	for key, conn := range r.conns {
		if strings.HasPrefix(key, name+"/") {
			_ = conn.Close(context.Background())
			delete(r.conns, key)
		}
	}
	cfg := c.cfg
	cfg.ListenAddr, cfg.HTTPAddr = c.node.SQLAddr().String(), c.node.HTTPAddr().String()
	out := ""
	if graceful {
		// The drain must not wait for statements that never end by
		// themselves (replication streams): it ends well before its
		// timeout. Half the timeout leaves seconds of slack on a loaded
		// machine.
		start := time.Now()
		if err := c.node.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < cfg.DrainTimeout/2 {
			out = fmt.Sprintf("shut down in less than half the drain timeout (%s)\n", cfg.DrainTimeout)
		} else {
			out = fmt.Sprintf("shutdown took %s (drain timeout %s)\n", took.Round(time.Second), cfg.DrainTimeout)
		}
	} else {
		c.node.Close()
	}
	var err error
	succeedsSoon(t, func() error {
		c.node, err = StartNode(context.Background(), cfg)
		return err
	})
	return out
}

func (r *replHarness) producerJobs(ctx context.Context, t *testing.T, cluster string) string {
	jobs, err := r.cluster(t, cluster).node.Host().Producer().Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, j := range jobs {
		fmt.Fprintf(&b, "%d %s %s %s\n", j.ID, j.Kind, j.TenantName, j.Status)
	}
	return b.String()
}

func (r *replHarness) logicalBytes(t *testing.T, cluster, vc, max string) string {
	body := httpBody(t, "http://"+r.cluster(t, cluster).node.HTTPAddr().String()+"/metrics")
	prefix := fmt.Sprintf("physical_replication_logical_bytes{tenant=%q} ", vc)
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			var got, limit int64
			if _, err := fmt.Sscan(v, &got); err != nil {
				t.Fatal(err)
			}
			if _, err := fmt.Sscan(max, &limit); err != nil {
				t.Fatalf("logical-bytes needs max=N: %v", err)
			}
			return fmt.Sprintf("logical bytes > 0 and <= %d: %t\n", limit, got > 0 && got <= limit)
		}
	}
	return "no physical_replication_logical_bytes sample for " + vc + "\n"
}

// logf is the nodes' log: shown with REPL_TRACE set.
func (r *replHarness) logf(format string, args ...interface{}) {
	if os.Getenv("REPL_TRACE") != "" {
		r.t.Logf(format, args...)
	}
}
