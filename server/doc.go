// Package server is vcdb's Postgres wire protocol server
// (github.com/jackc/pgx/v5/pgproto3) and the lifecycle of a node: it
// accepts connections, negotiates (in time) TLS, authenticates, routes a
// connection to a virtual cluster, runs its statements through package sql
// and encodes results; it also serves the node's HTTP endpoints and
// starts and stops the whole node (Node: KV engine, SQL server, wire and
// HTTP servers).
//
// It may import sql, tenant, certs and kv (to open the engine); cli sits
// on top and stays thin.
//
// # Connection lifecycle
//
//  1. Accept (Server.Serve): the connection gets a process id (unique
//     among open connections) and a random 4-byte secret, is registered
//     for CancelRequest lookups, and runs in its own goroutine with a
//     startup deadline (Config.StartupTimeout).
//  2. Handshake (handshake.go): SSLRequest and GSSENCRequest are answered
//     'N' (insecure mode); a CancelRequest cancels the matching backend's
//     running statement and closes; a 3.x StartupMessage is parsed
//     (startup.go: user, database, application_name, options with -c
//     name=value, --name=value and the cluster option, the database's
//     "cluster:" prefix), newer minor versions get
//     NegotiateProtocolVersion, the Router picks the virtual cluster,
//     auth.go authenticates and the session is opened. Then
//     ParameterStatus, BackendKeyData and ReadyForQuery. Any error here is
//     sent as FATAL and closes the connection.
//  3. Serving (conn.go): a read loop goroutine reads, size-checks and
//     decodes messages and queues them; the processor (the connection's
//     goroutine) handles them in order: simple Query (simple.go), and
//     Parse/Bind/Describe/Execute/Close/Sync/Flush (extended.go). After
//     an error in an extended-protocol message everything up to Sync is
//     skipped. Output is buffered and written once per Sync, Flush or
//     Query (or when a large result fills the buffer).
//  4. End: Terminate, a client hang-up (the read loop cancels the
//     connection's context at once, which stops the running statement), a
//     malformed or oversized message (FATAL 08P01 to this connection only),
//     or the server draining. The processor closes open portals and the
//     session, closes the socket and waits for the read loop.
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
//     hint come from the error chain (pgerror.Flatten).
//   - Values are encoded by the type announced in RowDescription
//     (encode.go); text output follows CockroachDB's pgwire formatting
//     with the session's TimeZone, IntervalStyle and extra_float_digits.
//     Bound parameters are decoded by the parameter's type: the client's
//     OID, or the type the engine inferred when the client sent 0.
//   - A malformed or oversized message, or a panic while handling one,
//     ends only its own connection (FATAL 08P01 or XX000).
//
// # Goroutines
//
// Server owns the accept loops and one goroutine per connection; each
// connection goroutine owns its read loop. Server.Drain stops accepting
// and waits for connections to become idle and close; Server.Close
// cancels everything and waits for every goroutine. Node.Shutdown writes
// the node's stop order (drain, wire, HTTP, SQL, KV) in one place, with
// the reason for each step.
//
// # Tests
//
// testdata/server/wire holds wire scripts (pgproto3 messages as JSON)
// run against a scripted session (fake_session_test.go);
// testdata/server/wire_sql the same against an in-process node. pgx_test.go
// checks every type's text and binary encoding with pgx's codecs;
// e2e_test.go starts the real binary ($VCDB_BIN or a fresh build) and uses
// pgx, psql (testdata/server/psql), raw sockets, signals and HTTP;
// fuzz_test.go fuzzes the message reader and whole connections (seeds in
// testdata/fuzz).
package server
