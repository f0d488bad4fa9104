package certs

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testKeySize keeps RSA generation cheap in tests; DefaultKeySize is checked
// once in TestCreateDefaults.
const testKeySize = 1024

// fixtureNow is the clock of every fixture: certificates are valid from
// fixtureNow-1h for their lifetime.
var fixtureNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fixtures are two independent CAs with node and client certificates,
// generated once per test binary (RSA generation is the slow part).
type fixtures struct {
	root      string // parent of everything below
	certsDir  string // ca.crt, node.crt/key (localhost, 127.0.0.1, ::1), client.root, client.repl
	caKey     string
	otherDir  string // a second CA with its own node and client.root
	otherKey  string
	emptyRoot string
}

var (
	fixturesOnce sync.Once
	fixturesVal  fixtures
	fixturesErr  error
)

func testOpts() Options {
	return Options{KeySize: testKeySize, Now: func() time.Time { return time.Now() }}
}

// getFixtures returns the shared certificates, valid now.
func getFixtures(t testing.TB) fixtures {
	t.Helper()
	fixturesOnce.Do(func() {
		root, err := os.MkdirTemp("", "vcdb-certs-test")
		if err != nil {
			fixturesErr = err
			return
		}
		f := fixtures{
			root:     root,
			certsDir: filepath.Join(root, "certs"),
			caKey:    filepath.Join(root, "safe", "ca.key"),
			otherDir: filepath.Join(root, "other"),
			otherKey: filepath.Join(root, "other-safe", "ca.key"),
		}
		for _, step := range []func() error{
			func() error { return CreateCA(f.certsDir, f.caKey, testOpts()) },
			func() error {
				return CreateNode(f.certsDir, f.caKey, []string{"localhost", "127.0.0.1", "::1"}, testOpts())
			},
			func() error { return CreateClient(f.certsDir, f.caKey, "root", testOpts()) },
			func() error { return CreateClient(f.certsDir, f.caKey, "repl", testOpts()) },
			func() error { return CreateCA(f.otherDir, f.otherKey, testOpts()) },
			func() error {
				return CreateNode(f.otherDir, f.otherKey, []string{"localhost", "127.0.0.1"}, testOpts())
			},
			func() error { return CreateClient(f.otherDir, f.otherKey, "root", testOpts()) },
		} {
			if fixturesErr = step(); fixturesErr != nil {
				return
			}
		}
		fixturesVal = f
	})
	if fixturesErr != nil {
		t.Fatalf("creating test certificates: %v", fixturesErr)
	}
	return fixturesVal
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixturesVal.root != "" {
		_ = os.RemoveAll(fixturesVal.root)
	}
	os.Exit(code)
}

// copyDir copies the regular files of src into a new temporary directory,
// keeping their modes, so a test can damage its copy.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
