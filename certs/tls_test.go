package certs

import (
	"crypto/tls"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
)

// handshake runs a TLS handshake over an in-memory pipe and returns the
// client's error, the server's error and the server's view of the connection.
func handshake(t *testing.T, server, client *tls.Config) (clientErr, serverErr error, state tls.ConnectionState) {
	t.Helper()
	c1, c2 := net.Pipe()
	deadline := time.Now().Add(10 * time.Second)
	_ = c1.SetDeadline(deadline)
	_ = c2.SetDeadline(deadline)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := tls.Server(c1, server)
		serverErr = s.Handshake()
		state = s.ConnectionState()
		// Closing unblocks a client still waiting for the server's reply.
		_ = s.Close()
	}()
	cl := tls.Client(c2, client)
	clientErr = cl.Handshake()
	if clientErr == nil {
		// Let the server finish reading the client's certificate message.
		_, _ = cl.Read(make([]byte, 1))
	}
	_ = cl.Close()
	<-done
	return clientErr, serverErr, state
}

func clientConfig(t *testing.T, uri string) *tls.Config {
	t.Helper()
	cfg, err := ParseURI(uri)
	if err != nil {
		t.Fatalf("ParseURI: %v", err)
	}
	if cfg.TLSConfig == nil {
		t.Fatal("no TLS config")
	}
	return cfg.TLSConfig
}

func TestServerTLSHandshakes(t *testing.T) {
	defer leaktest.AfterTest(t)()
	f := getFixtures(t)
	server, err := LoadServerTLSConfig(f.certsDir)
	if err != nil {
		t.Fatal(err)
	}
	if server.MinVersion != tls.VersionTLS12 || server.ClientAuth != tls.VerifyClientCertIfGiven {
		t.Fatalf("server config: min %x auth %v", server.MinVersion, server.ClientAuth)
	}
	ca := filepath.Join(f.certsDir, "ca.crt")
	otherCA := filepath.Join(f.otherDir, "ca.crt")
	rootCert := "&sslcert=" + filepath.Join(f.certsDir, "client.root.crt") + "&sslkey=" + filepath.Join(f.certsDir, "client.root.key")
	otherRoot := "&sslcert=" + filepath.Join(f.otherDir, "client.root.crt") + "&sslkey=" + filepath.Join(f.otherDir, "client.root.key")
	inlineCA, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name      string
		uri       string
		clientErr string // substring; empty means success
		serverErr bool
		certUser  string
	}{
		{name: "verify-full", uri: "postgresql://root@localhost:26257?sslmode=verify-full&sslrootcert=" + ca},
		{name: "verify-full by IP", uri: "postgresql://root@127.0.0.1:26257?sslrootcert=" + ca},
		{name: "verify-full IPv6", uri: "postgresql://root@[::1]:26257?sslrootcert=" + ca},
		{name: "inline CA", uri: "postgresql://root@localhost:26257?sslinline=true&sslrootcert=" + url.QueryEscape(string(inlineCA))},
		{name: "client certificate", uri: "postgresql://root@localhost?sslrootcert=" + ca + rootCert, certUser: "root"},
		{name: "wrong CA", uri: "postgresql://root@localhost?sslrootcert=" + otherCA, clientErr: "certificate signed by unknown authority", serverErr: true},
		{name: "wrong host name", uri: "postgresql://root@otherhost?sslrootcert=" + ca, clientErr: "not otherhost", serverErr: true},
		{name: "wrong IP", uri: "postgresql://root@127.0.0.2?sslrootcert=" + ca, clientErr: "not 127.0.0.2", serverErr: true},
		{name: "verify-ca ignores the host name", uri: "postgresql://root@otherhost?sslmode=verify-ca&sslrootcert=" + ca},
		{name: "verify-ca wrong CA", uri: "postgresql://root@localhost?sslmode=verify-ca&sslrootcert=" + otherCA, clientErr: "unknown authority", serverErr: true},
		{name: "require trusts anything", uri: "postgresql://root@otherhost?sslmode=require"},
		{name: "require with a root cert is verify-ca", uri: "postgresql://root@otherhost?sslmode=require&sslrootcert=" + otherCA, clientErr: "unknown authority", serverErr: true},
		{name: "client certificate from another CA", uri: "postgresql://root@localhost?sslrootcert=" + ca + otherRoot, serverErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The server's errors are its own; the client config is shared.
			clientErr, serverErr, state := handshake(t, server.Clone(), clientConfig(t, tc.uri))
			if tc.clientErr == "" && clientErr != nil && !tc.serverErr {
				t.Fatalf("client: %v", clientErr)
			}
			if tc.clientErr != "" && (clientErr == nil || !strings.Contains(clientErr.Error(), tc.clientErr)) {
				t.Fatalf("client error %v, want %q", clientErr, tc.clientErr)
			}
			if (serverErr != nil) != tc.serverErr {
				t.Fatalf("server error %v, want error=%v", serverErr, tc.serverErr)
			}
			if serverErr != nil {
				return
			}
			user, ok := ClientCertUser(state)
			if tc.certUser == "" && ok {
				t.Fatalf("unexpected client certificate user %q", user)
			}
			if tc.certUser != "" && user != tc.certUser {
				t.Fatalf("client certificate user %q, want %q", user, tc.certUser)
			}
		})
	}

	// TLS 1.1 is refused.
	old := &tls.Config{MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true}
	if clientErr, serverErr, _ := handshake(t, server.Clone(), old); clientErr == nil || serverErr == nil {
		t.Fatalf("TLS 1.1 accepted: client %v server %v", clientErr, serverErr)
	}
}

func TestLoadServerTLSConfigRefusals(t *testing.T) {
	f := getFixtures(t)

	t.Run("key readable by others", func(t *testing.T) {
		dir := copyDir(t, f.certsDir)
		if err := os.Chmod(filepath.Join(dir, NodeKeyFilename), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadServerTLSConfig(dir)
		if err == nil || !strings.Contains(err.Error(), "permissions 0644") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("0640 is for root-owned keys only", func(t *testing.T) {
		dir := copyDir(t, f.certsDir)
		if err := os.Chmod(filepath.Join(dir, NodeKeyFilename), 0o640); err != nil {
			t.Fatal(err)
		}
		_, err := LoadServerTLSConfig(dir)
		if (os.Getuid() == 0) != (err == nil) {
			t.Fatalf("uid %d: got %v", os.Getuid(), err)
		}
	})
	t.Run("node cert from another CA", func(t *testing.T) {
		dir := copyDir(t, f.certsDir)
		for _, n := range []string{NodeCertFilename, NodeKeyFilename} {
			data, err := os.ReadFile(filepath.Join(f.otherDir, n))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, n), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, err := LoadServerTLSConfig(dir)
		if err == nil || !strings.Contains(err.Error(), "not signed by a CA") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("key of another certificate", func(t *testing.T) {
		dir := copyDir(t, f.certsDir)
		data, err := os.ReadFile(filepath.Join(f.certsDir, "client.root.key"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, NodeKeyFilename), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadServerTLSConfig(dir); err == nil {
			t.Fatal("mismatched key accepted")
		}
	})
	t.Run("expired", func(t *testing.T) {
		_, err := loadServerTLSConfig(f.certsDir, time.Now().Add(DefaultCertLifetime+24*time.Hour))
		if err == nil || !strings.Contains(err.Error(), "expired on") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("not yet valid", func(t *testing.T) {
		_, err := loadServerTLSConfig(f.certsDir, time.Now().Add(-48*time.Hour))
		if err == nil || !strings.Contains(err.Error(), "not valid before") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("missing files", func(t *testing.T) {
		if _, err := LoadServerTLSConfig(t.TempDir()); err == nil {
			t.Fatal("empty directory accepted")
		}
	})
}
