package workload

import (
	"context"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"
)

// Generator is a workload: it creates its schema and data, and makes one
// Worker per connection of a run.
type Generator interface {
	// Name is the workload's name ("kv", "bank").
	Name() string
	// Init creates the workload's tables and initial rows through the
	// connector's connections.
	Init(ctx context.Context, c *Connector, opts InitOptions) error
	// NewWorker returns the worker that runs operations on conn. It is
	// called once per connection (again after a reconnect), from the
	// goroutine that then uses the worker. A worker reports each
	// operation's latency to hists itself, so that one operation can have
	// several names (kv's read, write and span) and a retried transaction
	// counts once, with its retries in its latency.
	NewWorker(ctx context.Context, conn *pgx.Conn, d Dialect, hists *Histograms, rng *rand.Rand) (Worker, error)
}

// Worker runs the operations of one connection. It is used by one goroutine.
type Worker interface {
	// Op runs one operation. An error means the operation failed; the
	// runner counts it and, unless errors are tolerated, stops the run.
	Op(ctx context.Context) error
}

// InitOptions are the settings of `vcdb workload init`.
type InitOptions struct {
	// Drop drops the workload's table first, so that init starts afresh.
	Drop bool
	// Concurrency is the number of connections that load rows in parallel.
	Concurrency int
	// Seed seeds the generated values.
	Seed uint64
}
