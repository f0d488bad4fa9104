// Package replication is physical cluster replication: the producer (source
// side) and the consumer (standby side), their jobs and state machine. It
// works on KV spans and timestamps, never on SQL rows.
//
// It may import kv and tenant of the project. It reaches a remote primary
// through pgx's pgconn with a connection configuration built above it (the
// URI parser lives in certs, which replication does not import).
package replication
