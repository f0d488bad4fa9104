package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
	"github.com/vcdb/vcdb/certs"
	"github.com/vcdb/vcdb/server"
	"github.com/vcdb/vcdb/sql"
	"github.com/vcdb/vcdb/workload"
)

// pcrDemo is what `vcdb demo` runs: two physical clusters in this process
// on loopback, in secure mode with temporary certificates, and a
// replication stream between them, set up with the SQL steps of the seed
// page (manage-physical-cluster-replication.md):
//
//   - the primary (--virtualized) serves virtual cluster main, where a
//     small bank workload runs (package workload, in a goroutine);
//   - its system VC has a replication user with REPLICATIONSOURCE only;
//   - the standby (--virtualized-empty) runs CREATE VIRTUAL CLUSTER main
//     FROM REPLICATION OF main ON '<encode-uri --inline>' WITH READ
//     VIRTUAL CLUSTER, so main-readonly serves reads of the copy.
//
// failover runs the failover steps (COMPLETE REPLICATION TO LATEST, wait
// until main is ready, START SERVICE SHARED) and moves the workload to the
// promoted main, as an operator would move the application.
//
// Goroutines: the workload runs in one goroutine (plus the workload
// package's own, which Run waits for), stopped by stopWorkload and close.
// The nodes' goroutines belong to package server and end in close.
type pcrDemo struct {
	dir      string
	certsDir string
	primary  *server.Node
	standby  *server.Node
	// log keeps the nodes' log lines, shown if set-up fails.
	log *demoLog

	mu struct {
		sync.Mutex
		// wl is the running workload (nil once stopped).
		wl *demoWorkload
		// wlTarget is where the workload runs: "primary" or "standby".
		wlTarget   string
		failedOver bool
	}
}

// Demo workload: small enough to leave the machine to the user, large
// enough that replication has something to do.
const (
	demoBankRows    = 100
	demoBankPayload = 100
	demoBankRate    = 20 // transfers per second
	demoReplUser    = "repl"
	// demoWait bounds every wait of the set-up and the failover.
	demoWait = 60 * time.Second
)

// demoLog collects node log lines (bounded) without printing them: the
// shell owns the terminal.
type demoLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *demoLog) logf(format string, args ...interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) >= 1000 {
		l.lines = l.lines[1:]
	}
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *demoLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startPCRDemo makes the certificates, starts both nodes and sets up the
// stream, the read-only VC and the workload. On error everything started
// is stopped.
func startPCRDemo(ctx context.Context) (_ *pcrDemo, retErr error) {
	dir, err := os.MkdirTemp("", "vcdb-demo-")
	if err != nil {
		return nil, errors.Wrap(err, "making the demo's directory")
	}
	d := &pcrDemo{dir: dir, certsDir: filepath.Join(dir, "certs"), log: &demoLog{}}
	defer func() {
		if retErr != nil {
			d.close()
		}
	}()
	// One CA for both clusters: they run in one process for one user.
	// The replication URI still carries the CA inline, as between real
	// clusters with their own CAs.
	caKey := filepath.Join(dir, "ca.key")
	if err := certs.CreateCA(d.certsDir, caKey, certs.Options{}); err != nil {
		return nil, err
	}
	if err := certs.CreateNode(d.certsDir, caKey, []string{"localhost", "127.0.0.1"}, certs.Options{}); err != nil {
		return nil, err
	}
	if err := certs.CreateClient(d.certsDir, caKey, server.RootUser, certs.Options{}); err != nil {
		return nil, err
	}
	// The CA key is not needed any more; a demo leaves no signing key
	// lying around.
	if err := os.Remove(caKey); err != nil {
		return nil, errors.Wrap(err, "removing the demo's CA key")
	}

	start := func(name string, init sql.InitMode) (*server.Node, error) {
		n, err := server.StartNode(ctx, server.NodeConfig{
			InMemory:   true,
			CertsDir:   d.certsDir,
			ListenAddr: "127.0.0.1:0",
			HTTPAddr:   "127.0.0.1:0",
			Init:       init,
			Logf: func(format string, args ...interface{}) {
				d.log.logf(name+": "+format, args...)
			},
		})
		return n, errors.Wrapf(err, "starting the %s", name)
	}
	if d.primary, err = start("primary", sql.InitVirtualized); err != nil {
		return nil, err
	}
	if d.standby, err = start("standby", sql.InitVirtualizedEmpty); err != nil {
		return nil, err
	}
	if err := d.setUp(ctx); err != nil {
		return nil, errors.Wrapf(err, "setting up replication (node log:\n%s)", d.log)
	}
	return d, nil
}

// setUp runs the seed page's steps.
func (d *pcrDemo) setUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, demoWait)
	defer cancel()
	// The bank table first, so that the stream's initial scan has it.
	conn, err := workload.NewConnector([]string{d.url("primary", "main")}, "")
	if err != nil {
		return err
	}
	bank := &workload.Bank{Rows: demoBankRows, PayloadBytes: demoBankPayload}
	if err := bank.Init(ctx, conn, workload.InitOptions{Concurrency: 2, Seed: 1}); err != nil {
		return errors.Wrap(err, "loading bank.bank")
	}

	// The replication user: a random password that nobody needs to see.
	var pw [12]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return err
	}
	password := hex.EncodeToString(pw[:])
	if err := d.exec(ctx, d.url("primary", "system"),
		fmt.Sprintf("CREATE USER %s WITH LOGIN PASSWORD '%s'", demoReplUser, password),
		"GRANT SYSTEM REPLICATIONSOURCE TO "+demoReplUser,
	); err != nil {
		return err
	}
	source, err := certs.EncodeURI(demoReplUser+":"+password+"@"+d.primary.SQLAddr().String(), certs.EncodeOptions{
		CACert: filepath.Join(d.certsDir, certs.CACertFilename),
		Inline: true,
	})
	if err != nil {
		return err
	}
	if err := d.exec(ctx, d.url("standby", "system"),
		"CREATE VIRTUAL CLUSTER main FROM REPLICATION OF main ON "+sqlString(source)+" WITH READ VIRTUAL CLUSTER",
	); err != nil {
		return err
	}
	// Wait until the stream replicates and the read-only VC serves.
	if err := d.waitFor(ctx, d.url("standby", "system"),
		`SELECT count(*) = 2 FROM [SHOW VIRTUAL CLUSTERS] WHERE (name = 'main' AND data_state = 'replicating') OR (name = 'main-readonly' AND data_state = 'ready' AND service_mode = 'shared')`,
	); err != nil {
		return errors.Wrap(err, "waiting for main to replicate and main-readonly to serve")
	}
	d.startWorkload("primary")
	return nil
}

// url is root's URL of virtual cluster vc on the named cluster.
func (d *pcrDemo) url(cluster, vc string) string {
	n := d.primary
	if cluster == "standby" {
		n = d.standby
	}
	u, err := neturl.Parse(n.SQLURL())
	if err != nil {
		return n.SQLURL()
	}
	q := u.Query()
	q.Set("options", "-ccluster="+vc)
	u.RawQuery = q.Encode()
	return u.String()
}

// sqlString quotes s as a SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func (d *pcrDemo) connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := certs.ParsePGXConfig(url)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// exec runs statements in order on one connection.
func (d *pcrDemo) exec(ctx context.Context, url string, stmts ...string) error {
	conn, err := d.connect(ctx, url)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s, pgx.QueryExecModeSimpleProtocol); err != nil {
			// The statement may hold a password or a URI; say which step
			// failed by its first words only.
			return errors.Wrapf(err, "%s", firstWords(s, 4))
		}
	}
	return nil
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

// waitFor polls a query returning one boolean until it is true.
func (d *pcrDemo) waitFor(ctx context.Context, url, query string) error {
	conn, err := d.connect(ctx, url)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	for {
		var ok bool
		err := conn.QueryRow(ctx, query, pgx.QueryExecModeSimpleProtocol).Scan(&ok)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// demoWorkload is the bank workload running in the background.
type demoWorkload struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startWorkload runs the bank workload against main on the named
// cluster until stopWorkload. It tolerates errors (a failover ends its
// connections), so it never stops by itself.
func (d *pcrDemo) startWorkload(cluster string) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &demoWorkload{cancel: cancel, done: make(chan struct{})}
	url := d.url(cluster, "main")
	go func() {
		defer close(w.done)
		conn, err := workload.NewConnector([]string{url}, "")
		if err != nil {
			d.log.logf("workload: %v", err)
			return
		}
		_, err = workload.Run(ctx, conn, &workload.Bank{Rows: demoBankRows, PayloadBytes: demoBankPayload},
			workload.RunOptions{Concurrency: 2, MaxRate: demoBankRate, TolerateErrors: true, Out: io.Discard})
		if err != nil && ctx.Err() == nil {
			d.log.logf("workload: %v", err)
		}
	}()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mu.wl, d.mu.wlTarget = w, cluster
}

// stopWorkload stops the workload and waits for it.
func (d *pcrDemo) stopWorkload() {
	d.mu.Lock()
	w := d.mu.wl
	d.mu.wl = nil
	d.mu.Unlock()
	if w != nil {
		w.cancel()
		<-w.done
	}
}

// close stops the workload and both nodes and removes the certificates.
func (d *pcrDemo) close() {
	d.stopWorkload()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The standby first: its stream would otherwise retry against a
	// primary that is gone.
	for _, n := range []*server.Node{d.standby, d.primary} {
		if n != nil {
			_ = n.Shutdown(ctx)
		}
	}
	_ = os.RemoveAll(d.dir)
}

// demoStatusQuery is the part of SHOW VIRTUAL CLUSTER ... WITH
// REPLICATION STATUS that fits a terminal.
const demoStatusQuery = `SELECT name, source_tenant_name AS source, status, replicated_time, replication_lag ` +
	`FROM [SHOW VIRTUAL CLUSTER main WITH REPLICATION STATUS]`

// printTable runs a statement and prints its result as the shell would.
func (d *pcrDemo) printTable(ctx context.Context, out io.Writer, url, stmt string) error {
	u, err := certs.ParseURIFields(url)
	if err != nil {
		return err
	}
	conn, err := connectSQL(ctx, u, out)
	if err != nil {
		return err
	}
	defer closeSQLConn(ctx, conn)
	s := &sqlSession{conn: conn, out: out, errOut: out, format: formatTable, now: time.Now}
	return s.exec(ctx, stmt)
}

// printStatus prints the stream's status (before a failover) or both
// clusters' virtual clusters (after).
func (d *pcrDemo) printStatus(ctx context.Context, out io.Writer) error {
	d.mu.Lock()
	failedOver := d.mu.failedOver
	d.mu.Unlock()
	if !failedOver {
		fmt.Fprintln(out, "# Replication status (standby: SHOW VIRTUAL CLUSTER main WITH REPLICATION STATUS):")
		return d.printTable(ctx, out, d.url("standby", "system"), demoStatusQuery)
	}
	for _, c := range []string{"primary", "standby"} {
		fmt.Fprintf(out, "# %s: SHOW VIRTUAL CLUSTERS\n", c)
		if err := d.printTable(ctx, out, d.url(c, "system"), "SHOW VIRTUAL CLUSTERS"); err != nil {
			return err
		}
	}
	return nil
}

// failover runs the failover steps on the standby, printing each, and
// returns the URL of the promoted main.
func (d *pcrDemo) failover(ctx context.Context, out io.Writer) (string, error) {
	d.mu.Lock()
	done := d.mu.failedOver
	d.mu.Unlock()
	if done {
		return "", errors.New("the demo has failed over already; main is served by the standby")
	}
	ctx, cancel := context.WithTimeout(ctx, demoWait)
	defer cancel()
	standbySystem := d.url("standby", "system")
	conn, err := d.connect(ctx, standbySystem)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close(context.Background()) }()

	fmt.Fprintln(out, "# Failing over to the standby, in its system virtual cluster, while the")
	fmt.Fprintln(out, "# workload writes to the primary:")
	fmt.Fprintln(out, "#   ALTER VIRTUAL CLUSTER main COMPLETE REPLICATION TO LATEST;")
	start := time.Now()
	var failoverTime string
	if err := conn.QueryRow(ctx, "ALTER VIRTUAL CLUSTER main COMPLETE REPLICATION TO LATEST",
		pgx.QueryExecModeSimpleProtocol).Scan(&failoverTime); err != nil {
		return "", err
	}
	fmt.Fprintf(out, "#   failover_time: %s\n", failoverTime)
	fmt.Fprintln(out, "#   (wait until SHOW VIRTUAL CLUSTERS shows main ready)")
	if err := d.waitFor(ctx, standbySystem,
		`SELECT data_state = 'ready' FROM [SHOW VIRTUAL CLUSTER main]`); err != nil {
		return "", errors.Wrap(err, "waiting for main to become ready")
	}
	fmt.Fprintln(out, "#   ALTER VIRTUAL CLUSTER main START SERVICE SHARED;")
	if _, err := conn.Exec(ctx, "ALTER VIRTUAL CLUSTER main START SERVICE SHARED", pgx.QueryExecModeSimpleProtocol); err != nil {
		return "", err
	}
	took := time.Since(start)
	// The application moves to the promoted main: nothing stops writes
	// to the old primary, so the operator (here, the demo) must.
	d.stopWorkload()
	d.mu.Lock()
	d.mu.failedOver = true
	d.mu.Unlock()
	d.startWorkload("standby")
	fmt.Fprintf(out, "# Failed over in %s (from COMPLETE REPLICATION to main serving).\n", formatDuration(took))
	fmt.Fprintln(out, "# The workload now writes to the standby's main. The standby's virtual clusters:")
	if err := d.printTable(ctx, out, standbySystem, "SHOW VIRTUAL CLUSTERS"); err != nil {
		return "", err
	}
	return d.url("standby", "main"), nil
}

// run is `\demo ARGS` in the demo's shell (demoRunner).
func (d *pcrDemo) run(ctx context.Context, args []string, out io.Writer) (string, error) {
	switch {
	case len(args) == 1 && args[0] == "failover":
		return d.failover(ctx, out)
	case len(args) == 1 && args[0] == "status":
		return "", d.printStatus(ctx, out)
	case len(args) == 1 && args[0] == "urls":
		d.printURLs(out)
		return "", nil
	case len(args) == 0 || (len(args) == 1 && (args[0] == "help" || args[0] == "?")):
		fmt.Fprint(out, demoShellHelp)
		return "", nil
	}
	return "", errors.Newf(`unknown \demo command %q; try \demo help`, strings.Join(args, " "))
}

const demoShellHelp = `Commands of vcdb demo:

  \demo status     the replication stream (SHOW VIRTUAL CLUSTER main WITH
                   REPLICATION STATUS on the standby), or after a failover
                   both clusters' virtual clusters
  \demo failover   fail over to the standby (COMPLETE REPLICATION TO LATEST,
                   START SERVICE SHARED) and connect this shell to the
                   promoted main
  \demo urls       the connection URLs
`

// printURLs prints where to connect, one "# label: URL" line each.
func (d *pcrDemo) printURLs(out io.Writer) {
	for _, l := range []struct{ label, url string }{
		{"Primary, main (the workload)", d.url("primary", "main")},
		{"Primary, system", d.url("primary", "system")},
		{"Standby, system (replication)", d.url("standby", "system")},
		{"Standby, main-readonly", d.url("standby", "main-readonly")},
		{"Standby, main (after failover)", d.url("standby", "main")},
		{"HTTP of the primary", d.primary.HTTPURL()},
		{"HTTP of the standby", d.standby.HTTPURL()},
	} {
		fmt.Fprintf(out, "# %-31s %s\n", l.label+":", l.url)
	}
}
