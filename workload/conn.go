package workload

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vcdb/vcdb/certs"
)

// DefaultURL is the server a workload connects to when no URL is given:
// vcdb's (and CockroachDB's) default SQL port on this host, insecure.
const DefaultURL = "postgresql://root@localhost:26257/defaultdb?sslmode=disable"

// connectTimeout bounds one connection attempt, so that a workload pointed at
// a dead server fails instead of hanging.
const connectTimeout = 10 * time.Second

// Methods are the ways of issuing statements, named as in `cockroach
// workload --method` because they are exactly pgx's query execution modes.
// cache_statement (prepare once per connection, then bind and execute in one
// round trip) is the default; simple_protocol sends statements as text, as
// pgbench does without -M.
var Methods = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"describe_exec":   pgx.QueryExecModeDescribeExec,
	"exec":            pgx.QueryExecModeExec,
	"simple_protocol": pgx.QueryExecModeSimpleProtocol,
}

// Connector opens connections to one or more servers, round robin, with the
// statement method of the run. It is safe for concurrent use.
type Connector struct {
	configs []*pgx.ConnConfig
	next    atomic.Uint64
}

// NewConnector parses the URLs (DefaultURL when there are none) and the
// method name.
func NewConnector(urls []string, method string) (*Connector, error) {
	if len(urls) == 0 {
		urls = []string{DefaultURL}
	}
	if method == "" {
		method = "cache_statement"
	}
	mode, ok := Methods[method]
	if !ok {
		return nil, errors.Newf("unknown --method %q (want cache_statement, cache_describe, describe_exec, exec or simple_protocol)", method)
	}
	c := &Connector{}
	for _, u := range urls {
		cfg, err := parseURL(u)
		if err != nil {
			return nil, err
		}
		cfg.DefaultQueryExecMode = mode
		c.configs = append(c.configs, cfg)
	}
	return c, nil
}

// parseURL turns a connection URI into a pgx configuration with the
// project's one URI parser (certs.ParsePGXConfig): it handles
// sslinline=true URIs with inline PEM certificates, as `vcdb encode-uri
// --inline` prints them, and options=-ccluster=NAME written with or without
// escaping.
func parseURL(u string) (*pgx.ConnConfig, error) {
	cfg, err := certs.ParsePGXConfig(u)
	if err != nil {
		return nil, errors.Wrapf(err, "parsing connection URL")
	}
	return cfg, nil
}

// Connect opens one connection to the next server in turn.
func (c *Connector) Connect(ctx context.Context) (*pgx.Conn, error) {
	cfg := c.configs[int(c.next.Add(1)-1)%len(c.configs)]
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, errors.Wrapf(err, "connecting to %s:%d", cfg.Host, cfg.Port)
	}
	return conn, nil
}

// sqlState returns the SQLSTATE of a server error, or "" for any other error.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// isRetryable reports whether a transaction that failed with err should be
// run again from the start: serialization failures (40001) on both systems,
// and PostgreSQL's deadlock detection (40P01), which aborts one of two
// transactions exactly like a serialization failure does.
func isRetryable(err error) bool {
	switch sqlState(err) {
	case "40001", "40P01":
		return true
	}
	return false
}
