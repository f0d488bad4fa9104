package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/vcdb/vcdb/certs"
)

// TestSQLSecureConnections runs `vcdb sql` through the app against a TLS
// server using certs.LoadServerTLSConfig: --certs-dir with a client
// certificate, an `encode-uri --inline` URI through the shared parser, and
// the failures a user must see (wrong CA, wrong host name, plaintext client).
func TestSQLSecureConnections(t *testing.T) {
	defer leaktest.AfterTest(t)()
	dir := t.TempDir()
	certsDir, caKey := filepath.Join(dir, "certs"), filepath.Join(dir, "safe", "ca.key")
	otherDir, otherKey := filepath.Join(dir, "other"), filepath.Join(dir, "other-safe", "ca.key")
	opts := certs.Options{KeySize: 1024}
	for _, step := range []func() error{
		func() error { return certs.CreateCA(certsDir, caKey, opts) },
		func() error { return certs.CreateNode(certsDir, caKey, []string{"localhost"}, opts) },
		func() error { return certs.CreateClient(certsDir, caKey, "root", opts) },
		func() error { return certs.CreateCA(otherDir, otherKey, opts) },
		func() error { return certs.CreateClient(otherDir, otherKey, "root", opts) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	serverTLS, err := certs.LoadServerTLSConfig(certsDir)
	if err != nil {
		t.Fatal(err)
	}
	fs := newFakeServer(t, serverTLS)
	defer fs.close()
	port := fs.port()

	run := func(args ...string) (string, int) {
		stdout, stderr, code := runApp(append([]string{"vcdb", "sql"}, args...), nil)
		return stdout + stderr, code
	}

	// --certs-dir: verify-full against ca.crt, client.root.crt presented.
	out, code := run("--certs-dir", certsDir, "--host=localhost", "--port", port, "-e", "SELECT 1")
	if code != 0 || out != "?column?\n1\n" {
		t.Fatalf("certs-dir connection: exit %d\n%s", code, out)
	}
	if p := fs.lastStartup(); p["client-cert-user"] != "root" || p["user"] != "root" || p["database"] != "defaultdb" {
		t.Fatalf("startup %v", p)
	}

	// The replication source URI, inlined by encode-uri, used as --url.
	uri, stderr, code := runApp([]string{"vcdb", "encode-uri", "repl:pw@localhost:" + port,
		"--ca-cert", filepath.Join(certsDir, "ca.crt"), "--inline"}, nil)
	if code != 0 {
		t.Fatal(stderr)
	}
	out, code = run("--url", strings.TrimSpace(uri), "-e", "SELECT 1")
	if code != 0 || out != "?column?\n1\n" {
		t.Fatalf("inline URI connection: exit %d\n%s", code, out)
	}
	if p := fs.lastStartup(); p["client-cert-user"] != "" || p["user"] != "repl" || p["options"] != "-ccluster=system" {
		t.Fatalf("startup %v", p)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong CA", []string{"--certs-dir", otherDir, "--host=localhost", "--port", port},
			"certificate signed by unknown authority"},
		{"wrong host name", []string{"--certs-dir", certsDir, "--host=127.0.0.1", "--port", port},
			"cannot validate certificate for 127.0.0.1"},
		{"client certificate of another CA", []string{"--url", "postgresql://root@localhost:" + port +
			"?sslrootcert=" + filepath.Join(certsDir, "ca.crt") + "&sslcert=" + filepath.Join(otherDir, "client.root.crt") +
			"&sslkey=" + filepath.Join(otherDir, "client.root.key")}, "tls: "},
	} {
		out, code := run(append(tc.args, "-e", "SELECT 1")...)
		if code == 0 || !strings.Contains(out, "ERROR: cannot connect to ") || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, output:\n%s\nwant an error containing %q", tc.name, code, out, tc.want)
		}
	}
}
