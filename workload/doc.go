// Package workload holds vcdb's load generators: the kv and bank workloads,
// the runner that drives them from many connections with a rate limit, a ramp
// and a deadline, and the HDR-histogram reporting of per-second and final
// latencies. It is a genuinely new part of the project, not a piece of any
// layer below: `vcdb workload` (package cli), the benchmark harness (bench/)
// and the end-to-end tests all generate load with it, and because the same
// code measures vcdb and PostgreSQL 15, every ratio the project reports comes
// from one driver.
//
// It talks to a server only through the Postgres wire protocol
// (github.com/jackc/pgx/v5), never through sql, server or kv, so it measures
// what a client sees. Of the project it may import only certs (connection
// URIs with inline certificates). Latencies are recorded in
// github.com/HdrHistogram/hdrhistogram-go histograms.
//
// Dialects: the workloads run against vcdb (CockroachDB dialect) and
// PostgreSQL. The SQL is the same wherever the dialects agree; Detect
// decides the dialect from the server, and the few differences (a database
// versus a schema for `kv.kv` and `bank.bank`, column type names, UPSERT
// versus INSERT ... ON CONFLICT, BEGIN ISOLATION LEVEL SERIALIZABLE, AS OF
// SYSTEM TIME) live in dialect.go.
//
// Invariants:
//   - bank never changes the sum of balances, and never lets a balance go
//     below zero: a transfer reads both balances and moves money only when the
//     payer can pay, in one serializable transaction retried on SQLSTATE 40001
//     (and 40P01, PostgreSQL's deadlock). CheckBank verifies both facts.
//   - kv's batched writes hold distinct keys in ascending order, so that
//     concurrent batches cannot deadlock on PostgreSQL and never write one row
//     twice in a statement (which both dialects reject).
//
// Goroutines: Run owns every goroutine it starts (one per worker connection
// and one reporter) under a cancellable context and waits for all of them
// before it returns. Histograms are shared between workers and the reporter
// under a mutex per operation name. Key generators and workers are used by
// one goroutine each, except the sequential key counter, which is atomic.
package workload
