// Package kv is vcdb's MVCC key-value storage engine on Pebble: hybrid-logical
// -clock time, serializable optimistic transactions with durable group commit,
// rangefeeds with resolved-timestamp checkpoints, revert, fingerprints, bulk
// export/ingest and protected-timestamp MVCC GC. It imports no other package of
// the project.
//
// See keys.go for the key encoding, commit.go for the commit protocol and its
// serializability argument, and the Engine type for goroutine ownership.
// (This overview is expanded as the package grows.)
package kv
