package catalog

import (
	"bytes"
	"context"

	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// Ids of the bootstrapped databases and their public schemas, as CockroachDB
// numbers them in a fresh cluster.
const (
	DefaultDBID       ID = 100
	DefaultDBPublicID ID = 101
	PostgresDBID      ID = 102
	PostgresPublicID  ID = 103
)

// VersionSetting is the cluster setting holding a VC's cluster version.
const VersionSetting = "version"

// BootstrapClusterVersion is this binary's release as text, kept for
// callers that need a fallback for a VC without a stored version (every
// bootstrapped VC has one). New code reads ClusterVersion and uses
// tenant.Binary.
//
// Deprecated: use ClusterVersion and tenant.Binary; this value is fixed at
// start-up, so it ignores tenant.TestingSetBinaryVersion.
var BootstrapClusterVersion = tenant.Binary().String()

// ClusterVersion reads the cluster version of the VC whose catalog keys are
// keys (its version setting). found is false for a VC without a catalog
// yet; a stored value that does not parse is an error (the store was
// written by something that is not vcdb).
func ClusterVersion(ctx context.Context, txn *kv.Txn, keys Keys) (v tenant.Version, found bool, err error) {
	s, found, err := GetSetting(ctx, txn, keys, VersionSetting)
	if err != nil || !found {
		return tenant.Version{}, false, err
	}
	v, err = tenant.ParseVersion(s)
	if err != nil {
		return tenant.Version{}, false, errors.Wrap(err, "reading the cluster version")
	}
	return v, true, nil
}

// SystemKeys are the system VC's catalog keys.
func SystemKeys() Keys { return Keys{Prefix: tenant.Prefix(tenant.SystemID)} }

// bootstrapVersion is the cluster version a fresh VC starts at: the
// binary's release for the system VC (a fresh store), and the system VC's
// active version for an application VC, so that an application VC is never
// ahead of its system VC (a 25.2 binary whose system VC is still at 25.1
// creates 25.1 VCs).
func bootstrapVersion(ctx context.Context, txn *kv.Txn, keys Keys) (tenant.Version, error) {
	sys := SystemKeys()
	if bytes.Equal(keys.Prefix, sys.Prefix) {
		return tenant.Binary(), nil
	}
	v, found, err := ClusterVersion(ctx, txn, sys)
	if err != nil || found {
		return v, err
	}
	return tenant.Binary(), nil
}

// Bootstrap writes a fresh VC's catalog in txn, unless the catalog version
// key already exists: databases defaultdb and postgres with their public
// schemas, the root user, the admin role and root's membership in it, and
// the VC's cluster version. It reports whether it wrote anything.
func Bootstrap(ctx context.Context, txn *kv.Txn, keys Keys) (bool, error) {
	if _, found, err := txn.Get(ctx, keys.Version()); err != nil || found {
		return false, err
	}
	c := &Collection{keys: keys, cache: NewCache(), txn: txn, snap: newSnapshot("", nil, nil, nil)}
	for _, d := range []struct {
		db, schema ID
		name       string
	}{
		{DefaultDBID, DefaultDBPublicID, "defaultdb"},
		{PostgresDBID, PostgresPublicID, "postgres"},
	} {
		if err := c.WriteDescriptor(ctx, &Descriptor{Database: &Database{
			ID: d.db, Name: d.name, Owner: RootUser, Privileges: DefaultDatabasePrivileges(RootUser),
		}}); err != nil {
			return false, err
		}
		if err := c.WriteDescriptor(ctx, &Descriptor{Schema: &Schema{
			ID: d.schema, ParentID: d.db, Name: "public", Owner: AdminRole,
		}}); err != nil {
			return false, err
		}
	}
	if err := txn.Put(keys.NextID(), encodeUvarint(uint64(PostgresPublicID)+1)); err != nil {
		return false, err
	}
	if err := c.PutUser(ctx, &User{Name: RootUser, CanLogin: true}); err != nil {
		return false, err
	}
	if err := c.PutUser(ctx, &User{Name: AdminRole, IsRole: true}); err != nil {
		return false, err
	}
	if err := c.PutRoleMember(ctx, RoleMember{Role: AdminRole, Member: RootUser, IsAdmin: true}); err != nil {
		return false, err
	}
	// The VC's cluster version lives in its own span, so a replicated VC
	// carries it.
	version, err := bootstrapVersion(ctx, txn, keys)
	if err != nil {
		return false, err
	}
	if err := PutSetting(txn, keys, VersionSetting, version.String()); err != nil {
		return false, err
	}
	return true, nil
}
