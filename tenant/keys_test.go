package tenant

import (
	"bytes"
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/util/encoding"
)

func TestPrefixOrderAndRoundTrip(t *testing.T) {
	ids := []ID{1, 2, 3, 109, 110, 111, 255, 256, 1 << 20, 1<<40 + 7}
	for i, id := range ids {
		key := append(Prefix(id), "rest"...)
		got, rest, err := DecodePrefix(key)
		if err != nil || got != id || string(rest) != "rest" {
			t.Fatalf("DecodePrefix(%x) = %d, %q, %v; want %d", key, got, rest, err, id)
		}
		// The span of id must sort strictly before the span of the next id, and
		// every key of the VC must fall inside [Prefix, PrefixEnd).
		if bytes.Compare(key, PrefixEnd(id)) >= 0 || bytes.Compare(key, Prefix(id)) < 0 {
			t.Fatalf("key %x outside span of VC %d", key, id)
		}
		if i > 0 && bytes.Compare(Prefix(ids[i-1]), Prefix(id)) >= 0 {
			t.Fatalf("prefix of %d does not sort before prefix of %d", ids[i-1], id)
		}
	}
	if _, _, err := DecodePrefix([]byte("x")); err == nil {
		t.Fatal("expected an error for a key without a VC prefix")
	}
}

func TestMetaPrefixBelowSQLKeys(t *testing.T) {
	// The SQL catalog's smallest key component is an ascending uvarint; every
	// metadata prefix must sort below it and inside the system VC's span.
	sqlStart := encoding.EncodeUvarintAscending(Prefix(SystemID), 0)
	for _, k := range []MetaKind{MetaRecords, MetaReplication, MetaExternalConnections, MetaCluster} {
		p := MetaPrefix(k)
		if bytes.Compare(p, sqlStart) >= 0 || bytes.Compare(p, Prefix(SystemID)) <= 0 {
			t.Fatalf("meta prefix %x not between the system prefix and SQL keys", p)
		}
	}
}
