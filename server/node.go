package server

import (
	"context"
	"crypto/tls"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/certs"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql"
)

// NodeConfig configures a single-node vcdb (`vcdb start-single-node`).
type NodeConfig struct {
	// StoreDir is the store directory; ignored when InMemory.
	StoreDir string
	// InMemory keeps the store in memory (--store=type=mem).
	InMemory bool
	// ListenAddr is the SQL address (host:port; port 0 picks one).
	ListenAddr string
	// HTTPAddr is the HTTP address.
	HTTPAddr string
	// Insecure serves without TLS and trusts user names.
	Insecure bool
	// CertsDir holds ca.crt and node.crt/node.key (secure mode), and
	// client.root.crt/.key for the printed URL.
	CertsDir string
	// PasswordMethod is how password users authenticate (secure mode).
	PasswordMethod PasswordMethod
	// AuthFailureDelay overrides DefaultAuthFailureDelay (tests).
	AuthFailureDelay time.Duration
	// CacheSize is the KV engine's block cache size in bytes; 0 means
	// kv's default.
	CacheSize int64
	// Init is how the physical cluster is set up at every start
	// (--virtualized, --virtualized-empty); sql.Host.Initialize is
	// idempotent.
	Init sql.InitMode
	// DrainTimeout bounds how long Shutdown lets running statements
	// finish; 0 means DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Logf logs node events; nil means the standard logger.
	Logf func(format string, args ...interface{})
	// Replication tunes the replication producer and consumer (tests and
	// benchmarks).
	Replication sql.ReplicationKnobs
}

// DefaultDrainTimeout is how long a graceful shutdown waits for running
// statements: long enough for ordinary OLTP statements and small
// transactions to finish, short enough for a supervisor's stop timeout
// (systemd's default is 90 s).
const DefaultDrainTimeout = 10 * time.Second

// SystemClusterName is the name of the system virtual cluster.
const SystemClusterName = "system"

// Node is a running single-node vcdb: the KV engine, the SQL layer of the
// physical cluster (sql.Host: the system virtual cluster and the services
// of the application VCs), the wire server and the HTTP server. StartNode
// starts it; Shutdown stops it in the order written there.
type Node struct {
	cfg     NodeConfig
	engine  *kv.Engine
	host    *sql.Host
	wire    *Server
	http    *http.Server
	sqlLn   net.Listener
	httpLn  net.Listener
	metrics *MetricsRegistry

	// done is closed when a serving goroutine failed on its own (a
	// listener error); Err then tells why. The owner shuts down.
	done     chan struct{}
	doneOnce sync.Once
	err      error
	serveWG  sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// StartNode opens the store, starts the SQL engine, and listens for SQL
// and HTTP. When it returns without error the node accepts connections.
// On error everything already started is stopped again.
func StartNode(ctx context.Context, cfg NodeConfig) (_ *Node, retErr error) {
	var tlsConfig *tls.Config
	if !cfg.Insecure {
		var err error
		if tlsConfig, err = certs.LoadServerTLSConfig(cfg.CertsDir); err != nil {
			err = errors.Wrap(err, "loading the node's certificates")
			// A key with loose permissions exists: its error's own hint
			// (chmod or chown it) is the fix, not creating certificates.
			if !errors.Is(err, certs.ErrKeyPermissions) {
				err = errors.WithHint(err,
					"Create them with `vcdb cert create-ca` and `vcdb cert create-node` "+
						"(see `vcdb cert --help`), or start with --insecure for testing.")
			}
			return nil, err
		}
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	n := &Node{cfg: cfg, metrics: NewMetricsRegistry(), done: make(chan struct{})}
	defer func() {
		if retErr != nil {
			n.closeStarted()
		}
	}()
	var err error
	storeDir := cfg.StoreDir
	if !cfg.InMemory {
		// The absolute path, so that kv's errors name the store as the
		// banner does.
		storeDir = n.StorePath()
	}
	n.engine, err = kv.Open(kv.Options{Dir: storeDir, InMemory: cfg.InMemory, CacheSize: cfg.CacheSize})
	if errors.Is(err, kv.ErrStoreInUse) {
		// kv's message already names the store and its lock file.
		return nil, errors.WithHint(err,
			"Stop the other node that uses this store, or give this one another --store.")
	}
	if err != nil {
		return nil, errors.Wrapf(err, "opening store %s", n.StorePath())
	}
	// NewHost brings back the service of every virtual cluster whose
	// record says shared, so a restart serves what was served before.
	n.host, err = sql.NewHost(ctx, sql.HostConfig{
		KV:   n.engine,
		Logf: cfg.Logf,
		// The standby's consumer connects to a primary with the same URI
		// parser as `vcdb sql` (sslinline, TLS, options=-ccluster=...).
		Dial:        sql.PGDialer(certs.ParseURI),
		Replication: cfg.Replication,
	})
	if err != nil {
		return nil, errors.Wrap(err, "starting the SQL engine")
	}
	if err := n.host.Initialize(ctx, cfg.Init); err != nil {
		return nil, errors.Wrap(err, "initializing the cluster")
	}
	if n.sqlLn, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
		return nil, errors.Wrap(err, "listening for SQL")
	}
	if n.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, errors.Wrap(err, "listening for HTTP")
	}
	n.wire = NewServer(Config{
		Route:            n.route,
		Insecure:         cfg.Insecure,
		TLS:              tlsConfig,
		PasswordMethod:   cfg.PasswordMethod,
		AuthFailureDelay: cfg.AuthFailureDelay,
		Logf:             cfg.Logf,
	})
	n.metrics.Register("server", n.wire.WriteMetrics)
	n.metrics.Register("replication", n.host.WriteReplicationMetrics)
	n.http = &http.Server{
		Handler:           NewHTTPHandler(n, n.metrics),
		ReadHeaderTimeout: 10 * time.Second,
	}
	n.serveWG.Add(2)
	go func() {
		defer n.serveWG.Done()
		if err := n.wire.Serve(n.sqlLn); !errors.Is(err, ErrServerDraining) {
			n.fail(errors.Wrap(err, "serving SQL"))
		}
	}()
	go func() {
		defer n.serveWG.Done()
		if err := n.http.Serve(n.httpLn); !errors.Is(err, http.ErrServerClosed) {
			n.fail(errors.Wrap(err, "serving HTTP"))
		}
	}()
	return n, nil
}

func (n *Node) fail(err error) {
	n.doneOnce.Do(func() {
		n.err = err
		close(n.done)
	})
}

// Done is closed if the node stopped serving on its own; Err says why.
func (n *Node) Done() <-chan struct{} { return n.done }

// Err is the error that closed Done.
func (n *Node) Err() error {
	select {
	case <-n.done:
		return n.err
	default:
		return nil
	}
}

// SQLAddr is the address the SQL listener is bound to.
func (n *Node) SQLAddr() net.Addr { return n.sqlLn.Addr() }

// HTTPAddr is the address the HTTP listener is bound to.
func (n *Node) HTTPAddr() net.Addr { return n.httpLn.Addr() }

// SQLURL is the connection URL printed at start-up: root with its client
// certificate in secure mode (the files of the certs directory, which
// `vcdb cert create-client root` creates), or sslmode=disable.
func (n *Node) SQLURL() string {
	return n.sqlURL(nil)
}

// SystemSQLURL is SQLURL routed to the system virtual cluster explicitly
// (printed when connections go to another VC by default).
func (n *Node) SystemSQLURL() string {
	return n.sqlURL(url.Values{"options": {"-c" + clusterOption + "=" + SystemClusterName}})
}

func (n *Node) sqlURL(q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	if n.cfg.Insecure {
		q.Set("sslmode", "disable")
	} else {
		dir := n.cfg.CertsDir
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		q.Set("sslmode", "verify-full")
		q.Set("sslrootcert", filepath.Join(dir, certs.CACertFilename))
		q.Set("sslcert", filepath.Join(dir, certs.ClientCertFilename(RootUser)))
		q.Set("sslkey", filepath.Join(dir, certs.ClientKeyFilename(RootUser)))
	}
	u := url.URL{
		Scheme:   "postgresql",
		User:     url.User(RootUser),
		Host:     advertiseAddr(n.cfg.ListenAddr, n.SQLAddr()),
		Path:     "/defaultdb",
		RawQuery: q.Encode(),
	}
	return u.String()
}

// HTTPURL is the base URL of the HTTP endpoints.
func (n *Node) HTTPURL() string { return "http://" + advertiseAddr(n.cfg.HTTPAddr, n.HTTPAddr()) }

// advertiseAddr is the host:port to print for a listener: the host as
// configured (so "localhost" stays "localhost"), or this machine's name
// when it listens on every interface, with the port actually bound (port
// 0 picks one).
func advertiseAddr(configured string, bound net.Addr) string {
	host, _, err := net.SplitHostPort(configured)
	_, port, perr := net.SplitHostPort(bound.String())
	if err != nil || perr != nil {
		return bound.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil {
			host = h
		} else {
			host = "localhost"
		}
	}
	return net.JoinHostPort(host, port)
}

// InMemory reports whether the store is in memory.
func (n *Node) InMemory() bool { return n.cfg.InMemory }

// StorePath describes the store ("type=mem" or the absolute path).
func (n *Node) StorePath() string {
	if n.cfg.InMemory {
		return "type=mem"
	}
	if abs, err := filepath.Abs(n.cfg.StoreDir); err == nil {
		return abs
	}
	return n.cfg.StoreDir
}

// Metrics is the registry behind /metrics, for other parts to register
// their sources.
func (n *Node) Metrics() *MetricsRegistry { return n.metrics }

// Host is the node's SQL layer (virtual clusters and their services).
func (n *Node) Host() *sql.Host { return n.host }

// route implements Router (contract §2): the cluster the client named, or
// the default target cluster (server.controller.default_target_cluster,
// cached by the Host), whose service must be running.
func (n *Node) route(cluster string) (Cluster, error) {
	if cluster == "" {
		cluster = n.host.DefaultTargetCluster()
	}
	srv, ok := n.host.Lookup(cluster)
	if !ok {
		return nil, RoutingError(cluster)
	}
	return SQLCluster(srv), nil
}

// RoutingError is the startup error for an unknown virtual cluster or one
// whose service is not started (contract §2, CockroachDB's
// SendRoutingError).
func RoutingError(cluster string) error {
	return errors.WithHint(
		pgerror.Newf(pgcode.ConnectionException, "service unavailable for target tenant (%s)", cluster),
		`Double check your "-ccluster=" connection option or your "cluster:" database name prefix.`)
}

// Serving implements Health.
func (n *Node) Serving() bool { return !n.wire.Draining() }

// CheckSQL implements Health: SELECT 1 through a fresh session of the
// system VC.
func (n *Node) CheckSQL(ctx context.Context) error {
	sess, err := n.host.System().NewSession(ctx, sql.SessionArgs{User: "root", ApplicationName: "$ internal-health"})
	if err != nil {
		return err
	}
	defer sess.Close()
	stmts, err := sess.Parse("SELECT 1")
	if err != nil {
		return err
	}
	prep, err := sess.Prepare(ctx, stmts[0], nil)
	if err != nil {
		return err
	}
	res, err := sess.Execute(ctx, prep, nil)
	if err != nil {
		return err
	}
	row, err := res.Next(ctx)
	if _, cerr := res.Close(ctx); err == nil {
		err = cerr
	}
	if err == nil && row == nil {
		err = errors.New("SELECT 1 returned no row")
	}
	if err != nil {
		return err
	}
	return sess.Sync(ctx)
}

// Shutdown stops the node gracefully. The order matters:
//
//  1. Drain the wire server: stop accepting, let each connection finish
//     its current statement (at most cfg.DrainTimeout), closing idle ones
//     with 57P01. /health answers 503 from the first moment, so load
//     balancers stop routing here while statements finish.
//  2. Close the wire server: cancel what is still running after the
//     timeout and wait for every connection goroutine; each closes its
//     session, so no statement uses the engine after this step.
//  3. Shut the HTTP server down: it was kept so /health reported the
//     drain; it goes before the SQL server because /health?ready=1 runs
//     SQL.
//  4. Close the SQL layer (every virtual cluster's service): no session
//     is left to use it.
//  5. Close the KV engine last: everything above reads and writes
//     through it, and closing it syncs and releases the store.
//
// It is safe to call more than once; later calls return the first
// result. ctx bounds the whole shutdown (the drain ends early when ctx
// does).
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutdownOnce.Do(func() {
		drainCtx, cancel := context.WithTimeout(ctx, n.cfg.DrainTimeout)
		if err := n.wire.Drain(drainCtx); err != nil {
			n.logf("drain timed out with %d connections left; cancelling their statements", n.wire.NumConns())
		}
		cancel()
		n.closeStarted()
	})
	return n.shutdownErr
}

// Close stops the node at once (running statements are cancelled).
func (n *Node) Close() {
	n.shutdownOnce.Do(n.closeStarted)
}

// closeStarted stops whatever StartNode started, in Shutdown's order.
func (n *Node) closeStarted() {
	if n.wire != nil {
		n.wire.Close()
	} else if n.sqlLn != nil {
		_ = n.sqlLn.Close()
	}
	if n.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = n.http.Shutdown(ctx)
		cancel()
		_ = n.http.Close()
	} else if n.httpLn != nil {
		_ = n.httpLn.Close()
	}
	n.serveWG.Wait()
	if n.host != nil {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.DrainTimeout)
		n.host.Close(ctx)
		cancel()
	}
	if n.engine != nil {
		if err := n.engine.Close(); err != nil {
			n.shutdownErr = errors.Wrap(err, "closing the store")
		}
	}
}

func (n *Node) logf(format string, args ...interface{}) {
	n.cfg.Logf(format, args...)
}
