package certs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/errors"
)

// TestCheckKeyPermissionsHint: a key readable by others is refused with an
// error marked ErrKeyPermissions whose hint is the chmod that fixes it;
// after that chmod the key passes.
func TestCheckKeyPermissionsHint(t *testing.T) {
	key := filepath.Join(t.TempDir(), "node.key")
	if err := os.WriteFile(key, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	err := CheckKeyPermissions(key)
	if !errors.Is(err, ErrKeyPermissions) {
		t.Fatalf("0644 key: %v", err)
	}
	if want := "key file " + key + ": has permissions 0644; a key must be 0600 (or 0700, 0400), or 0640 (or 0740) when owned by root"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if got, want := errors.FlattenHints(err), "Make the key readable by its owner only: chmod 600 "+key; got != want {
		t.Errorf("hint %q, want %q", got, want)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckKeyPermissions(key); err != nil {
		t.Fatalf("after chmod 600: %v", err)
	}
	// A missing key is not a permission problem.
	if err := CheckKeyPermissions(key + ".missing"); err == nil || errors.Is(err, ErrKeyPermissions) {
		t.Fatalf("missing key: %v", err)
	}
}
