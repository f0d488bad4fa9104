package catalog

import (
	"context"

	"github.com/vcdb/vcdb/kv"
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

// BootstrapClusterVersion is the cluster version a fresh VC starts at: the
// release this binary implements (CockroachDB v25.2's SQL surface). The
// versions work (issue 8) moves it with the binary.
const BootstrapClusterVersion = "25.2"

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
	if err := PutSetting(txn, keys, VersionSetting, BootstrapClusterVersion); err != nil {
		return false, err
	}
	return true, nil
}
