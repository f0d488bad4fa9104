// Package sql is vcdb's SQL engine for one virtual cluster at a time: parsing
// (github.com/cockroachdb/cockroachdb-parser), the catalog stored in KV inside
// the VC's span, planning and execution on top of package kv, sessions and
// transactions. api.go is its contract with the wire server.
//
// It may import kv, tenant and replication of the project (STYLE.md).
package sql
