package catalog

import (
	"context"
	"testing"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// TestBootstrapClusterVersion: the system VC bootstraps at the binary's
// release; an application VC at its system VC's active version (the
// binary's when the system VC has no catalog yet); a stored version that
// does not parse is an error, not a silent default.
func TestBootstrapClusterVersion(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	e := openEngine(t)
	defer func() { _ = e.Close() }()
	defer tenant.TestingSetBinaryVersion(tenant.Version{Year: 25, Release: 2})()

	bootstrap := func(keys Keys) tenant.Version {
		t.Helper()
		var v tenant.Version
		if err := tenant.RunTxn(ctx, e, func(txn *kv.Txn) error {
			if _, err := Bootstrap(ctx, txn, keys); err != nil {
				return err
			}
			var found bool
			var err error
			v, found, err = ClusterVersion(ctx, txn, keys)
			if err == nil && !found {
				t.Fatal("no version after bootstrap")
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	app := func(id tenant.ID) Keys { return Keys{Prefix: tenant.Prefix(id)} }

	// The store written by a 25.1 binary, opened by a 25.2 one.
	v251 := tenant.Version{Year: 25, Release: 1}
	restore := tenant.TestingSetBinaryVersion(v251)
	if v := bootstrap(SystemKeys()); v != v251 {
		t.Fatalf("a fresh system VC of a 25.1 binary: %v", v)
	}
	restore()
	if v := bootstrap(app(6)); v != v251 {
		t.Fatalf("an application VC of a 25.1 system VC: %v", v)
	}
	// Bootstrap writes nothing over an existing catalog: the system VC's
	// stored version stays.
	if v := bootstrap(SystemKeys()); v != v251 {
		t.Fatalf("system VC: %v", v)
	}

	first := e
	defer func() { _ = first.Close() }()
	e = openEngine(t)
	if v := bootstrap(app(5)); v != tenant.Binary() {
		t.Fatalf("an application VC without a system catalog: %v", v)
	}
	if v := bootstrap(SystemKeys()); v != tenant.Binary() {
		t.Fatalf("a fresh system VC: %v", v)
	}
	if err := tenant.RunTxn(ctx, e, func(txn *kv.Txn) error {
		if err := PutSetting(txn, app(5), VersionSetting, "garbage"); err != nil {
			return err
		}
		if _, _, err := ClusterVersion(ctx, txn, app(5)); err == nil {
			t.Fatal("a garbage version read without error")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
