package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/vcdb/vcdb/certs"
	"github.com/vcdb/vcdb/sql/password"
)

// authFixture holds certificates for secure-mode tests, made with package
// certs (the e2e tests make theirs with `vcdb cert`). Every certificate is
// issued as of three years ago so that an expired one can be made with the
// same CA.
type authFixture struct {
	// dir is the certs directory: ca.crt, node.crt/.key (for localhost
	// only, so that 127.0.0.1 is a wrong host name), and
	// client.{root,alice,ghost}.crt/.key.
	dir string
	// otherDir has another CA's ca.crt and client.root.crt/.key.
	otherDir string
	// expiredDir has client.alice.crt/.key from the right CA, expired.
	expiredDir string
}

var authFixtureOnce struct {
	sync.Once
	f   *authFixture
	err error
}

// testAuthFixture creates the certificates once per test binary run
// (RSA key generation is the slow part) in a directory TestMain removes.
func testAuthFixture(t testing.TB) *authFixture {
	t.Helper()
	authFixtureOnce.Do(func() {
		authFixtureOnce.f, authFixtureOnce.err = makeAuthFixture()
	})
	if authFixtureOnce.err != nil {
		t.Fatal(authFixtureOnce.err)
	}
	return authFixtureOnce.f
}

var fixtureRoot string

func makeAuthFixture() (*authFixture, error) {
	root, err := os.MkdirTemp("", "vcdb-server-certs-")
	if err != nil {
		return nil, err
	}
	fixtureRoot = root
	f := &authFixture{
		dir:        filepath.Join(root, "certs"),
		otherDir:   filepath.Join(root, "other"),
		expiredDir: filepath.Join(root, "expired"),
	}
	past := time.Now().Add(-3 * 365 * 24 * time.Hour)
	opts := certs.Options{KeySize: 1024, Now: func() time.Time { return past }}
	caKey, otherKey := filepath.Join(root, "safe", "ca.key"), filepath.Join(root, "other-safe", "ca.key")
	expiredOpts := opts
	expiredOpts.Lifetime = 24 * time.Hour
	for _, step := range []func() error{
		func() error {
			return certs.CreateCA(f.dir, caKey, certs.Options{KeySize: 1024, Now: opts.Now, Lifetime: 10 * 365 * 24 * time.Hour})
		},
		func() error { return certs.CreateNode(f.dir, caKey, []string{"localhost"}, opts) },
		func() error { return certs.CreateClient(f.dir, caKey, "root", opts) },
		func() error { return certs.CreateClient(f.dir, caKey, "alice", opts) },
		func() error { return certs.CreateClient(f.dir, caKey, "ghost", opts) },
		func() error { return certs.CreateCA(f.otherDir, otherKey, opts) },
		func() error { return certs.CreateClient(f.otherDir, otherKey, "root", opts) },
		func() error { return copyFile(filepath.Join(f.dir, "ca.crt"), filepath.Join(f.expiredDir, "ca.crt")) },
		func() error { return certs.CreateClient(f.expiredDir, caKey, "alice", expiredOpts) },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0700); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0644)
}

// serverTLS is the server side: certs.LoadServerTLSConfig on the fixture.
func (f *authFixture) serverTLS(t testing.TB) *tls.Config {
	cfg, err := certs.LoadServerTLSConfig(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// clientCertFiles returns the certificate and key files of a named client
// certificate: "root", "alice", "ghost" (a user no cluster has),
// "other-root" (root from another CA), "expired-alice".
func (f *authFixture) clientCertFiles(name string) (crt, key string) {
	dir := f.dir
	switch {
	case strings.HasPrefix(name, "other-"):
		dir, name = f.otherDir, strings.TrimPrefix(name, "other-")
	case strings.HasPrefix(name, "expired-"):
		dir, name = f.expiredDir, strings.TrimPrefix(name, "expired-")
	}
	return filepath.Join(dir, certs.ClientCertFilename(name)), filepath.Join(dir, certs.ClientKeyFilename(name))
}

// caFile is ca.crt of "main" (the server's CA) or "other".
func (f *authFixture) caFile(name string) string {
	if name == "other" {
		return filepath.Join(f.otherDir, "ca.crt")
	}
	return filepath.Join(f.dir, "ca.crt")
}

// clientTLS is a verify-full client configuration for the raw wire
// scripts' tls directive.
func (f *authFixture) clientTLS(t testing.TB, cert string) *tls.Config {
	pem, err := os.ReadFile(f.caFile("main"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if cert != "" {
		crt, key := f.clientCertFiles(cert)
		pair, err := tls.LoadX509KeyPair(crt, key)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

// authUsers are the fake engine's users for the authentication scripts:
// in "system", admin1 (admin), repl (a system privilege, not admin), alice
// (no system privilege), nologin (a role), nopass (no password), corrupt
// (a malformed stored verifier); in "app", alice with another password and
// bob. Passwords are the user name followed by "-pw" ("alice-app-pw" for
// alice in app).
func authUsers(t testing.TB) map[string]map[string]UserAuth {
	verifier := func(pw string) string {
		v, err := password.NewSCRAMVerifier(pw)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return map[string]map[string]UserAuth{
		"system": {
			"admin1":  {CanLogin: true, MayConnect: true, IsAdmin: true, PasswordVerifier: verifier("admin1-pw")},
			"repl":    {CanLogin: true, MayConnect: true, PasswordVerifier: verifier("repl-pw")},
			"alice":   {CanLogin: true, MayConnect: false, PasswordVerifier: verifier("alice-pw")},
			"nologin": {CanLogin: false, MayConnect: true, PasswordVerifier: verifier("nologin-pw")},
			"nopass":  {CanLogin: true, MayConnect: true},
			"corrupt": {CanLogin: true, MayConnect: true, PasswordVerifier: "SCRAM-SHA-256$1:c2FsdA==$bad"},
		},
		"app": {
			"alice": {CanLogin: true, MayConnect: true, PasswordVerifier: verifier("alice-app-pw")},
			"bob":   {CanLogin: true, MayConnect: true, PasswordVerifier: verifier("bob-pw")},
		},
	}
}

// startSecureTestServer serves the fake engine with TLS on 127.0.0.1:0.
func startSecureTestServer(t testing.TB, f *authFixture, cfg Config) (*Server, *fakeEngine, string) {
	eng := &fakeEngine{users: authUsers(t), clusters: []string{"app"}}
	cfg.TLS = f.serverTLS(t)
	srv, addr := startTestServer(t, eng, cfg)
	return srv, eng, addr
}

// TestAuth runs the scripts of testdata/server/auth against a secure
// server (TLS, the fake engine's users of authUsers). The file cleartext
// runs with PasswordCleartext, the others with the default SCRAM. Besides
// the wire directives (TestWire), scripts use:
//
//	login user=U [password=P] [cert=NAME] [ca=main|other] [host=H]
//	      [sslmode=M] [database=D] [options=O]
//	      connect with pgconn (libpq semantics, verify-full by default);
//	      prints the routed cluster and is_superuser, or the error, and
//	      whether the failure delay passed before it
//	tls [conn=NAME] [cert=NAME]   SSLRequest and, after 'S', a TLS handshake
//	sasl-initial [conn=NAME] [mechanism=M]   SASLInitialResponse, data = input
//	sasl-response [conn=NAME]     SASLResponse, data = input
//	password-message [conn=NAME]  PasswordMessage, password = input
func TestAuth(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	f := testAuthFixture(t)
	datadriven.Walk(t, "../testdata/server/auth", func(t *testing.T, path string) {
		cfg := Config{}
		if filepath.Base(path) == "cleartext" {
			cfg.PasswordMethod = PasswordCleartext
		}
		srv, _, addr := startSecureTestServer(t, f, cfg)
		runWireScript(t, path, srv, addr, f)
	})
}

// login connects with pgconn as the login directive describes.
func (f *authFixture) login(t *testing.T, srv *Server, addr string, d *datadriven.TestData) string {
	_, port, _ := net.SplitHostPort(addr)
	params := map[string]string{"host": "localhost", "port": port, "sslmode": "verify-full", "ca": "main"}
	for _, arg := range d.CmdArgs {
		params[arg.Key] = strings.Join(arg.Vals, ",")
	}
	var kv []string
	add := func(k, v string) {
		kv = append(kv, k+"='"+strings.ReplaceAll(v, "'", `\'`)+"'")
	}
	for k, v := range params {
		switch k {
		case "cert":
			crt, key := f.clientCertFiles(v)
			add("sslcert", crt)
			add("sslkey", key)
		case "ca":
			if v != "none" {
				add("sslrootcert", f.caFile(v))
			}
		case "database":
			add("dbname", v)
		default:
			add(k, v)
		}
	}
	cfg, err := pgconn.ParseConfig(strings.Join(kv, " "))
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	elapsed := time.Since(start)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			out := fmt.Sprintf("%s %s: %s", pgErr.Severity, pgErr.Code, pgErr.Message)
			if pgErr.Detail != "" {
				out += "\nDETAIL: " + pgErr.Detail
			}
			if pgErr.Hint != "" {
				out += "\nHINT: " + pgErr.Hint
			}
			if elapsed >= srv.cfg.AuthFailureDelay {
				out += "\n(answered after the failure delay)"
			}
			return out
		}
		// A TLS or connection error: the innermost cause, without the
		// addresses pgconn adds around it.
		return "client error: " + strings.ReplaceAll(innermost(err), port, "PORT")
	}
	defer conn.Close(context.Background())
	c := srv.connByPID(conn.PID())
	return fmt.Sprintf("ok: cluster=%s is_superuser=%s session_authorization=%s",
		c.clusterName(), conn.ParameterStatus("is_superuser"), conn.ParameterStatus("session_authorization"))
}

// innermost is the message of the deepest error in err's chain.
func innermost(err error) string {
	for {
		next := errors.UnwrapOnce(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// connByPID returns the open connection with the given process id.
func (s *Server) connByPID(pid uint32) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.conns[pid]
}

// startTLSClient sends an SSLRequest and, when the server answers 'S',
// runs the client side of the TLS handshake; it returns the answer byte
// and the handshake's error.
func (c *wireClient) startTLSClient(cfg *tls.Config) (byte, error) {
	if _, err := c.nc.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}); err != nil {
		return 0, err
	}
	var b [1]byte
	if _, err := c.nc.Read(b[:]); err != nil {
		return 0, err
	}
	if b[0] != 'S' {
		return b[0], nil
	}
	tc := tls.Client(c.nc, cfg)
	if err := tc.Handshake(); err != nil {
		return b[0], err
	}
	c.nc = tc
	c.fe = pgproto3.NewFrontend(tc, tc)
	return b[0], nil
}

// TestAuthFailureDelayDoesNotBlock: failed logins wait out their delay
// concurrently, each on its own connection's goroutine, while a good login
// goes through at once.
func TestAuthFailureDelayDoesNotBlock(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	f := testAuthFixture(t)
	srv, _, addr := startSecureTestServer(t, f, Config{})
	_, port, _ := net.SplitHostPort(addr)
	connect := func(user, cert string) (time.Duration, error) {
		crt, key := f.clientCertFiles(cert)
		cfg, err := pgconn.ParseConfig(fmt.Sprintf("host=localhost port=%s user=%s sslmode=verify-full sslrootcert=%s sslcert=%s sslkey=%s",
			port, user, f.caFile("main"), crt, key))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start := time.Now()
		conn, err := pgconn.ConnectConfig(ctx, cfg)
		if err == nil {
			_ = conn.Close(ctx)
		}
		return time.Since(start), err
	}
	const failing = 10
	delay := srv.cfg.AuthFailureDelay
	var wg sync.WaitGroup
	durations := make([]time.Duration, failing)
	start := time.Now()
	for i := 0; i < failing; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var err error
			// root presenting alice's certificate: refused, with the delay.
			durations[i], err = connect("root", "alice")
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "28000" {
				t.Errorf("login %d: %v", i, err)
			}
		}(i)
	}
	// While the failures wait, a good login is not held up by them.
	good, err := connect("root", "root")
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	total := time.Since(start)
	for i, d := range durations {
		if d < delay {
			t.Errorf("failed login %d answered after %s, before the delay %s", i, d, delay)
		}
	}
	if good >= 3*delay {
		t.Errorf("a good login took %s during failed ones (delay %s)", good, delay)
	}
	// Serialized delays would take at least failing*delay.
	if total >= failing*delay {
		t.Errorf("%d failed logins took %s: their delays were not concurrent", failing, total)
	}
}

// TestMockVerifier: an unknown user's SCRAM exchange shows a salt that is
// stable for the name (as a real user's is) and differs between names and
// between servers, with the real iteration count, so the exchange does not
// reveal whether the user exists.
func TestMockVerifier(t *testing.T) {
	a, b := NewServer(Config{Insecure: true}), NewServer(Config{Insecure: true})
	defer a.Close()
	defer b.Close()
	v1, v2 := a.mockVerifier("ghost"), a.mockVerifier("ghost")
	if string(v1.Salt) != string(v2.Salt) || len(v1.Salt) != 16 || v1.Iterations != password.DefaultIterations {
		t.Errorf("mock verifier not stable or not shaped like a real one: %+v %+v", v1, v2)
	}
	if string(a.mockVerifier("other").Salt) == string(v1.Salt) {
		t.Error("two names share a mock salt")
	}
	if string(b.mockVerifier("ghost").Salt) == string(v1.Salt) {
		t.Error("two servers share a mock salt")
	}
	real, err := password.NewSCRAMVerifier("pw")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := password.ParseSCRAMVerifier(real)
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed.Salt) != len(v1.Salt) || parsed.Iterations != v1.Iterations {
		t.Errorf("real verifier %d/%d vs mock %d/%d", len(parsed.Salt), parsed.Iterations, len(v1.Salt), v1.Iterations)
	}
}
