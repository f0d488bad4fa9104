package replication

import (
	"bytes"
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// Fingerprint is SHOW EXPERIMENTAL_FINGERPRINTS FROM VIRTUAL CLUSTER at the
// KV level. The tenant prefix is left out of every key, so equal data in VCs
// with different ids on two clusters hashes equal.
//
// With start set (WITH START TIMESTAMP) it hashes every MVCC revision in
// (start, end] (kv.Engine.Fingerprint). With start empty it hashes, as of
// end, the newest version of every key that is live then (key, timestamp
// and value), which is what the statement without START TIMESTAMP means.
// start above end is the contract's 22023 error.
func Fingerprint(ctx context.Context, eng *kv.Engine, id tenant.ID, start, end kv.Timestamp) (uint64, error) {
	if !start.IsEmpty() && end.Less(start) {
		return 0, pgerror.Newf(pgcode.InvalidParameterValue,
			"start timestamp %s is greater than the end timestamp %s", start, end)
	}
	span := tenantSpan(id)
	opts := kv.FingerprintOptions{StripPrefix: len(tenant.Prefix(id))}
	if !start.IsEmpty() {
		return eng.Fingerprint(ctx, span, start, end, opts)
	}
	var fp uint64
	var lastKey []byte
	one := make([]kv.Version, 1)
	err := eng.Export(ctx, span, kv.Timestamp{}, end, func(v kv.Version) error {
		if lastKey != nil && bytes.Equal(v.Key, lastKey) {
			return nil // an older version of a key already handled
		}
		lastKey = append(lastKey[:0], v.Key...)
		if v.Tombstone {
			return nil
		}
		one[0] = v
		fp ^= kv.FingerprintVersions(one, opts)
		return nil
	})
	return fp, err
}
