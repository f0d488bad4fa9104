package catalog

import (
	"context"
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

func openEngine(t *testing.T) *kv.Engine {
	e, err := kv.Open(kv.Options{InMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func table(id ID, name string) *Descriptor {
	return &Descriptor{Table: &Table{
		ID: id, ParentID: DefaultDBID, SchemaID: DefaultDBPublicID, Name: name, NextColumnID: 2, NextIndexID: 2,
		Columns:      []Column{{ID: 1, Name: "k", TypeSQL: "INT8"}},
		PrimaryIndex: Index{ID: PrimaryIndexID, Name: name + "_pkey", Unique: true, KeyColumnIDs: []ColumnID{1}, KeyDescending: []bool{false}},
	}}
}

// TestBootstrapAndVersions covers bootstrap, the shared snapshot of a
// version, a transaction's private copy, and what other transactions see.
func TestBootstrapAndVersions(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	e := openEngine(t)
	defer func() { _ = e.Close() }()
	keys := Keys{Prefix: tenant.Prefix(7)}
	cache := NewCache()

	txn := e.Begin(kv.TxnOptions{})
	if wrote, err := Bootstrap(ctx, txn, keys); err != nil || !wrote {
		t.Fatalf("bootstrap: %v %v", wrote, err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	txn = e.Begin(kv.TxnOptions{})
	if wrote, err := Bootstrap(ctx, txn, keys); err != nil || wrote {
		t.Fatalf("second bootstrap wrote: %v %v", wrote, err)
	}
	txn.Rollback()

	r1 := e.Begin(kv.TxnOptions{ReadOnly: true})
	s1, err := NewCollection(keys, cache, r1).Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s1.DatabaseByName("defaultdb") == nil || s1.DatabaseByName("postgres") == nil ||
		s1.SchemaByName(DefaultDBID, "public") == nil {
		t.Fatal("bootstrapped databases or schemas missing")
	}
	r2 := e.Begin(kv.TxnOptions{ReadOnly: true})
	s2, err := NewCollection(keys, cache, r2).Snapshot(ctx)
	if err != nil || s2 != s1 {
		t.Fatalf("same version must share its snapshot: %v", err)
	}

	w := e.Begin(kv.TxnOptions{})
	c := NewCollection(keys, cache, w)
	id, err := c.AllocateID(ctx)
	if err != nil || id != PostgresPublicID+1 {
		t.Fatalf("allocate: %d %v", id, err)
	}
	if err := c.WriteDescriptor(ctx, table(id, "t")); err != nil {
		t.Fatal(err)
	}
	ws, _ := c.Snapshot(ctx)
	if ws == s1 || ws.TableByName(DefaultDBID, DefaultDBPublicID, "t") == nil || ws.Version != "" {
		t.Fatal("the writer must see its table in a private copy")
	}
	if s1.TableByName(DefaultDBID, DefaultDBPublicID, "t") != nil {
		t.Fatal("the shared snapshot was modified")
	}
	// Undo the write as ROLLBACK TO SAVEPOINT would, then redo it.
	sp := w.Savepoint()
	if err := c.DeleteDescriptor(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := w.RollbackTo(sp); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := c.Snapshot(ctx); s.TableByID(id) == nil {
		t.Fatal("reload lost the write made before the savepoint")
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r3 := e.Begin(kv.TxnOptions{ReadOnly: true})
	s3, err := NewCollection(keys, cache, r3).Snapshot(ctx)
	if err != nil || s3.Version == s1.Version || s3.TableByID(id) == nil {
		t.Fatalf("a new version with the table: %v", err)
	}
	// The older reader still sees its version.
	if s, _ := NewCollection(keys, cache, r1).Snapshot(ctx); s.TableByID(id) != nil {
		t.Fatal("an older transaction sees the new table")
	}
	// Another tenant's catalog is separate.
	other := e.Begin(kv.TxnOptions{ReadOnly: true})
	if s, _ := NewCollection(Keys{Prefix: tenant.Prefix(8)}, NewCache(), other).Snapshot(ctx); s.DatabaseByName("defaultdb") != nil {
		t.Fatal("tenant 8 sees tenant 7's catalog")
	}
}

// TestUsersAndMembership checks the bootstrapped principals, role
// membership through nested roles, that principals are part of the
// catalog version, and the stored cluster version.
func TestUsersAndMembership(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	e := openEngine(t)
	defer func() { _ = e.Close() }()
	keys := Keys{Prefix: tenant.Prefix(1)}
	cache := NewCache()
	txn := e.Begin(kv.TxnOptions{})
	if _, err := Bootstrap(ctx, txn, keys); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := NewCollection(keys, cache, e.Begin(kv.TxnOptions{ReadOnly: true})).Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := before.Principal(RootUser); !p.Admin || !p.Exists {
		t.Fatalf("root: %+v", p)
	}
	if p := before.Principal("nobody"); p.Admin || p.Exists || len(p.Roles) != 2 || p.Roles[1] != PublicRole {
		t.Fatalf("unknown user: %+v", p)
	}

	txn = e.Begin(kv.TxnOptions{})
	c := NewCollection(keys, cache, txn)
	if err := c.PutUser(ctx, &User{Name: "ops", IsRole: true, SystemPrivileges: privilege.REPLICATION.Mask()}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutUser(ctx, &User{Name: "alice", CanLogin: true, PasswordVerifier: "SCRAM-SHA-256$x"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []RoleMember{{Role: "ops", Member: "alice"}, {Role: AdminRole, Member: "ops"}} {
		if err := c.PutRoleMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// The transaction sees its own changes.
	snap, err := c.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	alice := snap.Principal("alice")
	if !alice.Admin || !alice.IsMemberOf("ops") || !alice.HasSystemPrivilege(privilege.REPLICATION) {
		t.Fatalf("alice: %+v", alice)
	}
	if users := snap.Users(); len(users) != 4 || users[0].Name != "admin" || users[1].Name != "alice" {
		t.Fatalf("users: %v", users)
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Principals are part of the catalog version.
	after, err := NewCollection(keys, cache, e.Begin(kv.TxnOptions{ReadOnly: true})).Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version == before.Version || after.User("alice") == nil || before.User("alice") != nil {
		t.Fatal("user changes did not make a new catalog version")
	}

	txn = e.Begin(kv.TxnOptions{})
	c = NewCollection(keys, cache, txn)
	if err := c.DeleteUser(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	snap, _ = c.Snapshot(ctx)
	if roles := snap.MemberOf("alice"); len(roles) != 0 {
		t.Fatalf("memberships of a dropped role remain: %v", roles)
	}
	if found, err := c.DeleteRoleMember(ctx, AdminRole, RootUser); err != nil || !found {
		t.Fatalf("revoking admin from root: %v %v", found, err)
	}
	if found, _ := c.DeleteRoleMember(ctx, AdminRole, RootUser); found {
		t.Fatal("a membership deleted twice")
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rd := e.Begin(kv.TxnOptions{ReadOnly: true})
	v, found, err := GetSetting(ctx, rd, keys, VersionSetting)
	if err != nil || !found || v != BootstrapClusterVersion {
		t.Fatalf("bootstrapped version: %q %v %v", v, found, err)
	}
	snap, err = NewCollection(keys, cache, rd).Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.RoleMembers()) != 0 || !snap.Principal(RootUser).Admin {
		t.Fatalf("after revoking admin from root: %v (root stays admin by name)", snap.RoleMembers())
	}
}
