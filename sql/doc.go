// Package sql is vcdb's SQL engine for one virtual cluster (VC) at a time:
// parsing (github.com/cockroachdb/cockroachdb-parser), the catalog stored in
// KV inside the VC's span, planning and execution on top of package kv,
// sessions and transactions. api.go is its contract with the wire server
// (package server); Server and Session implement it.
//
// It may import kv, tenant and replication of the project (STYLE.md), and
// owns these subpackages:
//
//   - catalog: descriptors (databases, schemas, tables), users and roles,
//     cluster settings, their key layout inside the VC's span, and the
//     versioned, cached catalog snapshots transactions read;
//   - rowenc: order-preserving index keys and column-tagged row values;
//   - sem (another engineer's): expression type checking and evaluation.
//
// # Life of a statement
//
// Session.Parse splits a query; Session.Prepare resolves names, type-checks
// and plans a query or mutation once (plan.go explains the shape of plans)
// and keeps the plan in the Prepared; Session.Execute binds the
// placeholders and runs it in the session's transaction, or in an implicit
// transaction of its own (txn.go describes the transaction states). A cached
// plan is reused while the catalog version it was planned against is the
// transaction's; otherwise the statement is planned again. Schema changes
// and SHOW statements run straight from their AST (utility.go).
//
// # Invariants
//
//   - Every key the engine writes starts with tenant.Prefix(Config.TenantID).
//   - Every read is at its KV transaction's timestamp, so AS OF SYSTEM TIME
//     and a read-only VC (Config.ReadOnlyAt) see data and catalog of one
//     instant.
//   - A transaction either reads the catalog version key or, using the
//     version the server knows to be current, checks it again at commit
//     under Server.commitMu (server.go): statements planned against an old
//     catalog never commit writes after a schema change.
//   - Rows of a table and its index entries are written in the same
//     transaction; unique indexes are checked with transactional reads,
//     which serializable validation turns into write-write conflicts.
//   - Errors that reach the client carry a SQLSTATE (pgerror); KV conflicts
//     become 40001, and a panic in a statement becomes an internal error
//     of that statement only.
//
// # Goroutines
//
// The package starts none. A Session is used by one goroutine at a time
// (its connection's); Session.Cancel may be called from any goroutine.
// Server is safe for concurrent use: its catalog cache and known catalog
// version are shared by all sessions.
package sql
