package tenant

import (
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/encoding"
	"github.com/cockroachdb/errors"
)

// ID identifies a virtual cluster. The system VC is 1; application VCs get ids
// from 2 up and an id is never reused, even after its VC is dropped, so that a
// dropped VC's keys can never be mistaken for a new one's.
type ID uint64

// SystemID is the id of the system virtual cluster.
const SystemID ID = 1

// prefixByte starts every key of every VC. It is the same marker byte
// CockroachDB uses for its /Tenant/ prefix, so key dumps read alike.
const prefixByte = 0xfe

// Prefix returns the key prefix of VC id: the marker byte and the id as an
// order-preserving unsigned varint. Everything the VC owns (catalog, users,
// settings, cluster version, table data) lives under this prefix, so the span
// [Prefix(id), PrefixEnd(id)) is the whole VC and replicating it replicates the
// VC.
func Prefix(id ID) []byte {
	return encoding.EncodeUvarintAscending([]byte{prefixByte}, uint64(id))
}

// PrefixEnd returns the exclusive end of VC id's span.
func PrefixEnd(id ID) []byte {
	return Prefix(id + 1)
}

// DecodePrefix splits key into its VC id and the rest of the key.
func DecodePrefix(key []byte) (ID, []byte, error) {
	if len(key) == 0 || key[0] != prefixByte {
		return 0, nil, errors.Newf("key %x has no virtual cluster prefix", key)
	}
	rest, id, err := encoding.DecodeUvarintAscending(key[1:])
	if err != nil {
		return 0, nil, errors.Wrapf(err, "decoding virtual cluster prefix of key %x", key)
	}
	return ID(id), rest, nil
}

// MetaKind names a keyspace of system metadata kept in the system VC's span
// outside the SQL catalog: keys Prefix(SystemID) + kind + .... The SQL catalog
// encodes its table ids as ascending uvarints, whose first byte is at least
// 0x88, so kinds below 0x80 can never collide with SQL data.
type MetaKind byte

// Metadata keyspaces of the system VC.
const (
	// MetaRecords holds the VC records (store.go) and the id sequence.
	MetaRecords MetaKind = 0x02
	// MetaReplication holds replication producer and consumer jobs (package
	// replication).
	MetaReplication MetaKind = 0x03
	// MetaExternalConnections holds CREATE EXTERNAL CONNECTION records.
	MetaExternalConnections MetaKind = 0x04
	// MetaCluster holds physical-cluster facts such as the cluster id. The
	// store's version is the system VC's version setting (package sql).
	MetaCluster MetaKind = 0x05
)

// MetaPrefix returns the prefix of the system metadata keyspace kind.
func MetaPrefix(kind MetaKind) []byte {
	return append(Prefix(SystemID), byte(kind))
}
