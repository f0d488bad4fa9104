// Package catalog holds a virtual cluster's SQL catalog: database, schema and
// table descriptors, users and roles, and cluster settings, all stored as KV
// pairs inside the VC's span (keys.go lays them out).
//
// Descriptors are JSON documents under one key each. Every transaction that
// changes any descriptor also writes a fresh random catalog version under one
// key; every transaction that uses the catalog reads that key through its KV
// transaction first. Two consequences follow, and they are the invariants the
// rest of the SQL engine relies on:
//
//   - The version identifies the full set of descriptors, so an immutable
//     Snapshot decoded once for a version can be shared by every session and
//     every read timestamp that sees that version (Cache). AS OF SYSTEM TIME
//     reads and a read-only view of a replicated VC get the catalog of their
//     own timestamp for free.
//   - The version key is in the read set of every transaction that used the
//     catalog, so a DDL commit that overlaps a statement planned against the
//     old catalog makes that transaction fail serializable validation (and
//     retry) instead of writing rows in an outdated shape.
//
// Cached prepared plans remember the version they were planned against and
// are re-planned when it changes.
//
// A Collection is one transaction's view: the shared Snapshot until the
// transaction writes a descriptor, then a private copy with its uncommitted
// changes. Descriptors inside a shared Snapshot are never modified; writers
// clone them first (Table.Clone).
//
// The package starts no goroutines. Cache is safe for concurrent use;
// Collection belongs to one transaction.
package catalog
