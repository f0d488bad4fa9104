// Package kv is vcdb's MVCC key-value storage on Pebble: hybrid-logical-clock
// time, serializable transactions, rangefeeds, revert, fingerprints and
// protected-timestamp GC. It imports no other package of the project.
package kv
