// Package rowenc encodes SQL rows as KV keys and values.
//
// Keys are order-preserving (the parser module's util/encoding): an index key
// is the table's key prefix followed by each key column encoded ascending or
// descending, so a KV scan of a key span returns rows in index order and a
// range predicate on the leading key columns becomes a key span. NULL sorts
// first ascending and last descending, as in CockroachDB.
//
// Values hold the non-key columns of a primary index row in CockroachDB's
// value encoding: a sequence of (column-id delta, type tag, payload) items in
// increasing column-id order, NULL columns omitted. Decoding skips column ids
// the reader does not know, so a dropped column needs no rewrite of the table,
// and a column missing from the value reads as NULL, so an added nullable
// column needs no backfill.
//
// The package is pure: no I/O, no goroutines. Decoders allocate datums from a
// caller-owned tree.DatumAlloc so that scans amortise allocations.
package rowenc
