// Package server is vcdb's Postgres wire protocol server
// (github.com/jackc/pgx/v5/pgproto3): it accepts connections, negotiates TLS,
// authenticates, routes a connection to a virtual cluster and runs its
// statements through package sql.
//
// It may import sql, tenant, certs and kv (to open the engine).
package server
