package tenant

import (
	"context"
	"strings"
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
)

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a", "main", "main-readonly", "0", "a1-b2", strings.Repeat("a", 100)} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "a-", "Main", "a_b", "a.b", strings.Repeat("a", 101), "sp ace"} {
		err := CheckName(bad)
		if err == nil {
			t.Errorf("CheckName(%q) = nil, want an error", bad)
			continue
		}
		if code := pgerror.GetPGCode(err).String(); code != "42601" {
			t.Errorf("CheckName(%q) SQLSTATE %s, want 42601", bad, code)
		}
		if len(errors.GetAllHints(err)) == 0 {
			t.Errorf("CheckName(%q) carries no hint", bad)
		}
	}
}

type fakeService struct{ stopped bool }

func (f *fakeService) Stop(context.Context) error { f.stopped = true; return nil }

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	a := &fakeService{}
	if !r.Add(2, "main", a) {
		t.Fatal("Add failed")
	}
	if r.Add(2, "other", &fakeService{}) || r.Add(3, "main", &fakeService{}) {
		t.Fatal("Add accepted a duplicate id or name")
	}
	if svc, id, ok := r.Lookup("main"); !ok || id != 2 || svc != a {
		t.Fatalf("Lookup(main) = %v, %d, %v", svc, id, ok)
	}
	r.Rename(2, "prod")
	if _, _, ok := r.Lookup("main"); ok {
		t.Fatal("old name still routes after Rename")
	}
	if _, id, ok := r.Lookup("prod"); !ok || id != 2 {
		t.Fatal("new name does not route after Rename")
	}
	if got := r.Remove(2); got != a {
		t.Fatalf("Remove returned %v", got)
	}
	if _, _, ok := r.Lookup("prod"); ok {
		t.Fatal("removed service still routes")
	}
	if r.Remove(2) != nil {
		t.Fatal("second Remove returned a service")
	}
}
