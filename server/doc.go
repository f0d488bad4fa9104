// Package server is vcdb's Postgres wire protocol server
// (github.com/jackc/pgx/v5/pgproto3) and the lifecycle of a node: it
// accepts connections, negotiates TLS, authenticates, routes each
// connection to a virtual cluster, runs its statements through package
// sql and encodes results; it also serves the node's HTTP endpoints and
// starts and stops the whole node (Node: KV engine, sql.Host with the
// services of every virtual cluster, wire and HTTP servers).
//
// It may import sql, tenant, certs and kv (to open the engine); cli sits
// on top and stays thin.
//
// # Connection lifecycle
//
//  1. Accept (Server.Serve): the connection gets a process id (unique
//     among open connections) and a random 4-byte secret, is registered
//     for CancelRequest lookups, and runs in its own goroutine with a
//     startup deadline (Config.StartupTimeout) that also bounds the TLS
//     handshake.
//  2. Handshake (handshake.go): an SSLRequest is answered 'S' and the
//     connection switches to TLS (certs.LoadServerTLSConfig: TLS 1.2+,
//     node.crt, client certificates verified against ca.crt when
//     given); insecure mode answers 'N'. GSSENCRequest is answered 'N'.
//     A CancelRequest cancels the matching backend's running statement
//     and closes. A 3.x StartupMessage is refused (28000) on a secure
//     server unless it came over TLS; it is parsed (startup.go: user,
//     database, application_name, options with -c name=value,
//     --name=value and the cluster option, the database's "cluster:"
//     prefix), newer minor versions get NegotiateProtocolVersion, the
//     Router picks the virtual cluster, auth.go authenticates against
//     that cluster's users and the session is opened. Then
//     ParameterStatus, BackendKeyData and ReadyForQuery. Any error here
//     is sent as FATAL and closes the connection.
//  3. Serving (conn.go): a read loop goroutine reads, size-checks and
//     decodes messages and queues them; the processor (the connection's
//     goroutine) handles them in order: simple Query (simple.go), and
//     Parse/Bind/Describe/Execute/Close/Sync/Flush (extended.go). After
//     an error in an extended-protocol message everything up to Sync is
//     skipped. Output is buffered and written once per Sync, Flush or
//     Query (or when a large result fills the buffer), except for a
//     Result implementing sql.RowFlusher (crdb_internal.stream_partition,
//     a replication stream): each of its rows is flushed as soon as it is
//     produced, since its latency is the standby's replication lag, and a
//     large one-column BYTES row (a frame) goes out with writev straight
//     from the value (result.go).
//  4. End: Terminate, a client hang-up (the read loop cancels the
//     connection's context at once, which stops the running statement), a
//     malformed or oversized message (FATAL 08P01 to this connection only),
//     the session's virtual cluster stopping its service (Session.Done:
//     FATAL 57P01), or the server draining. The processor closes open
//     portals and the session, closes the socket and waits for the read
//     loop.
//
// # Routing (contract §2)
//
// The cluster comes from the options (-ccluster=NAME, --cluster=NAME,
// -c cluster=NAME; URL-escaped words too), else the database name's
// cluster:NAME or cluster:NAME/DB prefix, else the default target cluster
// (server.controller.default_target_cluster, cached by sql.Host). Node's
// Router looks the name up among the running services (Host.Lookup); an
// unknown VC or one without a running service gets 08000 "service
// unavailable for target tenant (NAME)" with CockroachDB's hint, during
// startup, so psql prints both. The lookup is one map read under a read
// lock per connection; statements never pass through routing again, so
// an application VC costs what the system VC costs (BenchmarkVCConnect,
// BenchmarkVCPointSelect).
//
// # Authentication (auth.go, scram.go; contract §2)
//
//   - Insecure mode trusts the user name; the user must exist in the
//     routed VC and may log in there.
//   - A client certificate verified against ca.crt whose common name is
//     the startup's user authenticates that user (certs.ClientCertUser).
//     A certificate for another name is ignored (libpq sends
//     ~/.postgresql/postgresql.crt whoever logs in) and the user proves
//     a password instead.
//   - root authenticates only with its certificate; it is refused at once
//     otherwise, without a password prompt.
//   - Password users: SCRAM-SHA-256 (RFC 5802/7677) by default, against
//     the verifier of sql/password. Channel binding is not offered (TLS
//     with verify-full already authenticates the server to the client).
//     The cleartext exchange is available as a node option
//     (--password-method=cleartext) for clients without SCRAM; it only
//     ever runs over TLS, because a secure server takes startups only
//     over TLS. It is not the default because it hands the password to
//     the server, which SCRAM avoids.
//   - Failures: 28P01 "password authentication failed for user X" for a
//     wrong password, an unknown user, a user without password and a
//     corrupt verifier alike. Unknown users go through the same SCRAM
//     exchange against a mock verifier whose salt is derived from a
//     per-server secret and the name, so nothing in the exchange tells
//     them apart. LOGIN (28000 "role X is not permitted to log in") and
//     the VC's login rule (28000 "user X may not log in to virtual
//     cluster system", UserAuth.MayConnect) are checked only after the
//     proof, so they tell a guesser nothing. Every failure is answered
//     after a pause of 100–200 ms (DefaultAuthFailureDelay plus jitter)
//     on the failing connection's own goroutine: other logins and the
//     accept loop go on.
//   - Failed logins are logged with user, VC, client address and reason;
//     passwords and startup parameters are never logged.
//
// The default method is SCRAM because every driver in use supports it
// (libpq since PostgreSQL 10, pgx, lib/pq, JDBC 42.2+).
//
// # Invariants
//
//   - The read loop never executes SQL and the processor never reads the
//     socket, so a closed connection or a CancelRequest is noticed while
//     a statement runs. The queue between them is bounded in bytes
//     (maxQueuedBytes); a client pipelining more waits on TCP.
//   - A Session is only used by its connection's processor, with at most
//     one open sql.Result (a suspended portal blocks other statements
//     until it finishes or is closed).
//   - Every error reaches the client through toErrorResponse (errors.go),
//     the one place errors become wire messages; SQLSTATE, detail and
//     hint come from the error chain (sql.FlattenError).
//   - Values are encoded by the type announced in RowDescription
//     (encode.go); text output follows CockroachDB's pgwire formatting
//     with the session's TimeZone, IntervalStyle and extra_float_digits.
//     Bound parameters are decoded by the parameter's type: the client's
//     OID, or the type the engine inferred when the client sent 0.
//   - A malformed or oversized message, or a panic while handling one,
//     ends only its own connection (FATAL 08P01 or XX000).
//   - In secure mode no byte of a StartupMessage or of authentication is
//     read outside TLS, and bytes a client sent after its SSLRequest
//     before the 'S' answer are refused (they could have been injected).
//   - A session is opened only after AuthenticationOk, for a user of the
//     routed virtual cluster that may log in there; a secret (password,
//     proof, key) never reaches a log line or an error message.
//
// # Metrics
//
// Server.WriteMetrics writes sql_conns (open), sql_new_conns (sessions
// started), sql_conn_failures and sql_auth_failures, each per virtual
// cluster with a tenant="NAME" label; failures before routing are not
// labelled (a client could otherwise create labels). Other parts register
// their own sources with Node.Metrics().Register: the node registers
// sql.Host.WriteReplicationMetrics, the standby's physical_replication_*
// metrics per replicating VC (CONTRACT §7).
//
// # Replication
//
// The node gives its sql.Host the replication dialer, sql.PGDialer with
// certs.ParseURI (sslinline, TLS, options=-ccluster=system as `vcdb sql`
// parses them): a standby's consumer reaches a primary through that
// primary's wire server like any client, as a user holding
// REPLICATIONSOURCE. NodeConfig.Replication tunes the producer and
// consumer (tests).
//
// # Goroutines
//
// Server owns the accept loops and one goroutine per connection; each
// connection goroutine owns its read loop. Server.Drain stops accepting
// and waits for connections to become idle and close, except that a
// statement whose Result never ends by itself (EndAtDrain: a replication
// stream) is cancelled at once with 57P01 (the standby reconnects and
// resumes above its replicated time), so that a SIGINT does not wait the
// whole drain timeout for it; Server.Close
// cancels everything and waits for every goroutine. Node.Shutdown writes
// the node's stop order (drain, wire, HTTP, SQL, KV) in one place, with
// the reason for each step.
//
// # Tests
//
// testdata/server/wire holds wire scripts (pgproto3 messages as JSON)
// run against a scripted session (fake_session_test.go);
// testdata/server/wire_sql the same against an in-process node;
// testdata/server/auth the same plus pgconn logins against a secure
// server with certificates from package certs (auth_test.go: TLS
// failures, SCRAM message by message, users and failure answers, the
// cleartext method). pgx_test.go checks every type's text and binary
// encoding with pgx's codecs; e2e_test.go starts the real binary
// ($VCDB_BIN or a fresh build) and uses pgx, psql (testdata/server/psql),
// raw sockets, signals and HTTP; e2e_secure_test.go runs
// testdata/server/e2e (secure, virtualized, restart) against secure nodes
// with certificates made by `vcdb cert`, with psql, pgx and the shared
// URI parser; node_test.go stops and starts a VC's service under open
// connections; fuzz_test.go fuzzes the message reader and whole
// connections (seeds in testdata/fuzz). replication_test.go runs
// testdata/server/replication: two in-process nodes on loopback (insecure
// or TLS with each cluster's own CA) replicating through their wire
// servers, driven by SQL in STYLE.md's replication vocabulary;
// replication_bench_test.go measures lag under kv95, failover, the
// initial scan and the primary's overhead through the same path.
package server
