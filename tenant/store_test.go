package tenant

import (
	"context"
	"sync"
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/vcdb/vcdb/kv"
)

func newTestStore(t *testing.T) (*Store, *kv.Engine) {
	t.Helper()
	eng, err := kv.Open(kv.Options{InMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	s := NewStore(eng)
	if err := s.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, eng
}

func code(err error) string { return pgerror.GetPGCode(err).String() }

func TestStoreCreateGetList(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	// Bootstrap is idempotent.
	if err := s.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	sys, err := s.GetByName(ctx, nil, SystemName)
	if err != nil || sys.ID != SystemID || sys.ServiceMode != ServiceModeShared {
		t.Fatalf("system record = %+v, %v", sys, err)
	}
	id, err := s.Create(ctx, nil, &Record{Name: "main", DataState: DataStateReady, ServiceMode: ServiceModeNone})
	if err != nil || id != 2 {
		t.Fatalf("Create(main) = %d, %v; want 2", id, err)
	}
	if _, err := s.Create(ctx, nil, &Record{Name: "main"}); code(err) != "42710" {
		t.Fatalf("duplicate Create: %v, want 42710", err)
	}
	if _, err := s.Create(ctx, nil, &Record{Name: "Bad_Name"}); code(err) != "42601" {
		t.Fatalf("invalid name: %v, want 42601", err)
	}
	if _, err := s.GetByName(ctx, nil, "nope"); code(err) != "42704" {
		t.Fatalf("unknown name: %v, want 42704", err)
	}
	// Dropping frees the name but never the id.
	if err := s.Update(ctx, id, func(r *Record) error {
		r.DataState, r.DroppedName, r.Name = DataStateDropped, r.Name, ""
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	id2, err := s.Create(ctx, nil, &Record{Name: "main", DataState: DataStateReady})
	if err != nil || id2 != 3 {
		t.Fatalf("re-Create(main) = %d, %v; want 3 (ids are never reused)", id2, err)
	}
	recs, err := s.List(ctx, nil)
	if err != nil || len(recs) != 3 || recs[0].ID != 1 || recs[1].ID != 2 || recs[2].ID != 3 {
		t.Fatalf("List = %+v, %v", recs, err)
	}
}

// TestStoreIDsNeverReused checks that an id stays taken even when the record
// with the highest id is removed from the store entirely.
func TestStoreIDsNeverReused(t *testing.T) {
	ctx := context.Background()
	s, eng := newTestStore(t)
	id, err := s.Create(ctx, nil, &Record{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := RunTxn(ctx, eng, func(txn *kv.Txn) error { return txn.Delete(recordKey(id)) }); err != nil {
		t.Fatal(err)
	}
	id2, err := s.Create(ctx, nil, &Record{Name: "b"})
	if err != nil || id2 <= id {
		t.Fatalf("Create after delete = %d, %v; want > %d", id2, err, id)
	}
}

// TestStoreConcurrentCreateSameName races creations of one name: exactly one
// must win.
func TestStoreConcurrentCreateSameName(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = s.Create(ctx, nil, &Record{Name: "race", DataState: DataStateReady})
		}(i)
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case code(err) != "42710":
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d creations of one name succeeded, want 1", wins)
	}
}

func TestStoreCreateWithID(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	if err := s.CreateWithID(ctx, nil, &Record{ID: 5, Name: "five", DataState: DataStateReady}); err != nil {
		t.Fatal(err)
	}
	// The sequence moved past 5: ids 2..5 are never handed out.
	id, err := s.Create(ctx, nil, &Record{Name: "next", DataState: DataStateReady})
	if err != nil || id != 6 {
		t.Fatalf("Create after [5] = %d, %v; want 6", id, err)
	}
	for _, tc := range []struct {
		id   ID
		name string
		code string
	}{
		{3, "three", "22023"}, // below the sequence: may have been used
		{6, "six", "42710"},   // taken
		{1, "one", "22023"},   // the system VC's
		{9, "five", "42710"},  // name taken
		{9, "Bad", "42601"},
	} {
		if err := s.CreateWithID(ctx, nil, &Record{ID: tc.id, Name: tc.name}); code(err) != tc.code {
			t.Errorf("CreateWithID(%d, %q) = %v, want %s", tc.id, tc.name, err, tc.code)
		}
	}
}
