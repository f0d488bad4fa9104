package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vcdb/vcdb/certs"
)

// TestEncodeURIDocumentedForm checks the printed URI against the documented
// shape byte for byte where the docs show it (fact sheet §2.5), and that it
// parses back through the shared parser to the intended connection.
func TestEncodeURIDocumentedForm(t *testing.T) {
	dir := t.TempDir()
	certsDir := filepath.Join(dir, "certs")
	if _, stderr, code := runApp([]string{"vcdb", "cert", "create-ca", "--certs-dir", certsDir,
		"--ca-key", filepath.Join(dir, "safe", "ca.key"), "--key-size=1024"}, nil); code != 0 {
		t.Fatal(stderr)
	}
	stdout, stderr, code := runApp([]string{"vcdb", "encode-uri", "repl:pw@localhost:26257",
		"--ca-cert", filepath.Join(certsDir, "ca.crt"), "--inline"}, nil)
	if code != 0 {
		t.Fatal(stderr)
	}
	uri := strings.TrimSpace(stdout)
	const prefix = "postgresql://repl:pw@localhost:26257/defaultdb?options=-ccluster%3Dsystem&sslinline=true&sslmode=verify-full&sslrootcert=-----BEGIN+CERTIFICATE-----%0A"
	if !strings.HasPrefix(uri, prefix) || !strings.HasSuffix(uri, "-----END+CERTIFICATE-----%0A") {
		t.Fatalf("not the documented form:\n%s", uri)
	}
	// The base64 body is escaped too: no raw '+', '/' or '=' may remain in
	// the certificate, or a lib/pq-style parser would corrupt it.
	body := strings.TrimSuffix(strings.TrimPrefix(uri, prefix), "-----END+CERTIFICATE-----%0A")
	if strings.ContainsAny(body, "/= \n") || strings.Contains(strings.ReplaceAll(body, "%2B", ""), "+") {
		t.Fatalf("unescaped characters in the inlined certificate: %s", body)
	}
	cfg, err := certs.ParseURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "repl" || cfg.Password != "pw" || cfg.Host != "localhost" || cfg.Port != 26257 ||
		cfg.Database != "defaultdb" || cfg.RuntimeParams["options"] != "-ccluster=system" ||
		cfg.TLSConfig == nil || cfg.TLSConfig.RootCAs == nil || cfg.TLSConfig.ServerName != "localhost" {
		t.Fatalf("parsed back as %+v", cfg)
	}
}
