// Package sql is vcdb's SQL layer: the engine of one virtual cluster (VC)
// — parsing (github.com/cockroachdb/cockroachdb-parser), the catalog stored
// in KV inside the VC's span, planning and execution on top of package kv,
// sessions and transactions — and the Host, which runs one engine per
// serving VC of a physical cluster. api.go is its contract with the wire
// server (package server); Server and Session implement it, and the
// server routes connections with Host.Lookup and
// Host.DefaultTargetCluster (phase2 contract).
//
// It may import kv, tenant and replication of the project (STYLE.md), and
// owns these subpackages:
//
//   - catalog: descriptors (databases, schemas, tables) with their grants,
//     users and roles with their system privileges, session defaults,
//     cluster settings, their key layout inside the VC's span, and the
//     versioned, cached catalog snapshots transactions read;
//   - password: SCRAM-SHA-256 verifiers (the only form passwords are
//     stored in);
//   - rowenc: order-preserving index keys and column-tagged row values;
//   - sem (another engineer's): expression type checking and evaluation.
//
// # Virtual clusters
//
// host.go: the Host keeps the VC records (tenant.Store, in the system VC's
// span) and a registry of running Servers (tenant.Registry). vc.go holds
// the record and service operations behind the statements of vc_stmt.go
// and show_vc.go (CREATE/ALTER/DROP/SHOW VIRTUAL CLUSTER, fingerprints);
// settings.go the cluster settings and their per-VC overrides; extconn.go
// the external connections; host_drop.go the job that clears dropped VCs.
// Users, roles and grants are users.go and grants.go; authz.go lists what
// every statement requires.
//
// # Physical cluster replication
//
// The Host owns the physical cluster's replication.Producer and
// replication.Consumer (replication.go: their life, the dialer with
// external connections, the version rule, the read-only VCs' timestamps and
// services). replication_builtins.go serves the stream protocol's
// crdb_internal builtins to a standby (stream_partition's rows flushed one
// by one: RowFlusher in api.go); replication_stmt.go runs CREATE ... FROM
// REPLICATION and the replication forms of ALTER VIRTUAL CLUSTER;
// replication_metrics.go renders the physical_replication_* metrics. A
// read-only VC (<name>-readonly) is a Server over the replicating VC's
// span with Config.ReadOnlyAt reading, for every transaction, the durable
// replicated time from the consumer's memory (frozen at the failover time
// once promoted), so it trails replicated_time by nothing; its users are
// the primary VC's. The consumer's hooks (a reader activated, a reader to
// drop) run in its job goroutines and take Host.mu, so the Host never
// waits for a job while holding it (DROP cancels a job first). A non-virtualized cluster is a Host with only
// the system VC, which then serves user data and any user may log in to.
//
// Statements that manage VCs run only in the system VC (42501 elsewhere),
// outside explicit transactions (their effects on services and spans
// cannot be rolled back), serialized by Host.mu, which also keeps each
// VC's record and the registry in agreement.
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
//     become 40001 with a hint pointing at vcdb's docs (FlattenError turns
//     an error into its wire form without the CockroachDB v1.2 link
//     pgerror.Flatten adds), and a panic in a statement becomes an
//     internal error of that statement only.
//   - A secondary index's entries hold its key columns, the primary key
//     and, when the descriptor says StoredValues, its STORING columns
//     (rowcodec.go): only then is it read as covering them.
//   - Users, memberships, grants and session defaults are part of the
//     catalog version, so privilege checks are made when a statement is
//     planned and hold for as long as its cached plan (authz.go).
//   - Passwords exist in clear only while CREATE/ALTER USER hashes them;
//     statements carrying secrets are shown redacted (redact.go).
//   - A VC is in the Host's registry (routable) exactly while its record
//     says shared; a Server serves one VC and at most one Server serves a
//     writable VC.
//
// # Goroutines
//
// The engine starts none. A Session is used by one goroutine at a time
// (its connection's); Session.Cancel may be called from any goroutine, and
// Server.Stop terminates sessions from another goroutine through atomics
// (session.go). Server is safe for concurrent use: its catalog cache and
// known catalog version are shared by all sessions. The Host owns the drop
// job and the system VC's auto-finalizer (version_finalize.go), both
// started by NewHost and stopped (and waited for) by Host.Close, and,
// through its replication.Producer and replication.Consumer, the producer's
// janitor and one goroutine per live consumer job (replication.go), which
// Host.Close stops first. A running crdb_internal.stream_partition owns
// one producer goroutine, ended and waited for by its Result's Close.
package sql
