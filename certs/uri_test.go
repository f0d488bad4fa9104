package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/jackc/pgx/v5/pgconn"
)

// uriVars are the substitutions of the datadriven URI tests: $CERTS and
// $OTHER are the fixture directories, $CA_INLINE and friends the
// query-escaped PEM text of fixture files.
func uriVars(t testing.TB, f fixtures) *strings.Replacer {
	read := func(p string) string {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return url.QueryEscape(string(data))
	}
	return strings.NewReplacer(
		"$CA_INLINE", read(filepath.Join(f.certsDir, CACertFilename)),
		"$ROOT_CERT_INLINE", read(filepath.Join(f.certsDir, "client.root.crt")),
		"$ROOT_KEY_INLINE", read(filepath.Join(f.certsDir, "client.root.key")),
		"$CERTS", f.certsDir,
		"$OTHER", f.otherDir,
	)
}

// describeConfig prints what a pgconn.Config will do, in a stable form.
func describeConfig(t testing.TB, f fixtures, cfg *pgconn.Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "host=%s port=%d user=%s password=%q database=%q\n",
		cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database)
	fmt.Fprintf(&b, "tls: %s\n", describeTLS(t, f, cfg.TLSConfig))
	if cfg.ConnectTimeout != 0 {
		fmt.Fprintf(&b, "connect-timeout: %s\n", cfg.ConnectTimeout)
	}
	var keys []string
	for k := range cfg.RuntimeParams {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "param %s=%q\n", k, cfg.RuntimeParams[k])
	}
	return b.String()
}

func describeTLS(t testing.TB, f fixtures, c *tls.Config) string {
	if c == nil {
		return "disable"
	}
	mode := "verify-full"
	switch {
	case c.InsecureSkipVerify && c.VerifyConnection == nil:
		mode = "require"
	case c.InsecureSkipVerify:
		mode = "verify-ca"
	}
	s := mode
	if c.ServerName != "" {
		s += " server-name=" + c.ServerName
	}
	if c.RootCAs != nil {
		s += " roots=" + poolName(t, f, c.RootCAs)
	}
	for _, cert := range c.Certificates {
		s += " client-cert=" + cert.Leaf.Subject.CommonName
	}
	if c.MinVersion != tls.VersionTLS12 {
		s += fmt.Sprintf(" min-version=%x", c.MinVersion)
	}
	return s
}

func poolName(t testing.TB, f fixtures, p *x509.CertPool) string {
	for name, dir := range map[string]string{"certs": f.certsDir, "other": f.otherDir} {
		cas, err := readCertFile(filepath.Join(dir, CACertFilename))
		if err != nil {
			t.Fatal(err)
		}
		want := x509.NewCertPool()
		for _, c := range cas {
			want.AddCert(c)
		}
		if p.Equal(want) {
			return name
		}
	}
	if sys, err := x509.SystemCertPool(); err == nil && p.Equal(sys) {
		return "system"
	}
	return "unknown"
}

// TestParseURI runs testdata/certs/parse_uri: `parse` takes a URI (with the
// substitutions of uriVars) and prints the resulting configuration or error.
func TestParseURI(t *testing.T) {
	f := getFixtures(t)
	vars := uriVars(t, f)
	// The environment must not change anything (ParseURI's contract).
	for k, v := range map[string]string{
		"PGHOST": "envhost", "PGPORT": "1", "PGUSER": "envuser", "PGPASSWORD": "envpw",
		"PGDATABASE": "envdb", "PGSSLMODE": "require", "PGOPTIONS": "-cfoo=bar",
		"PGAPPNAME": "envapp", "PGCONNECT_TIMEOUT": "7", "PGSSLROOTCERT": "/nonexistent",
		"PGTARGETSESSIONATTRS": "read-write",
	} {
		t.Setenv(k, v)
	}
	datadriven.RunTest(t, "../testdata/certs/parse_uri", func(t *testing.T, td *datadriven.TestData) string {
		switch td.Cmd {
		case "parse":
			uri := vars.Replace(strings.TrimSpace(td.Input))
			cfg, err := ParseURI(uri)
			if err != nil {
				return "error: " + redactFixtures(f, err.Error()) + "\n"
			}
			if cfg.ValidateConnect != nil || len(cfg.Fallbacks) != 0 {
				t.Fatalf("environment leaked into the config: fallbacks %d", len(cfg.Fallbacks))
			}
			return describeConfig(t, f, cfg)
		default:
			t.Fatalf("unknown directive %q", td.Cmd)
			return ""
		}
	})
}

func redactFixtures(f fixtures, s string) string {
	s = strings.ReplaceAll(s, f.certsDir, "$CERTS")
	return strings.ReplaceAll(s, f.otherDir, "$OTHER")
}

// TestParseURINeverQuotesSecrets checks that no error message repeats a
// password or key material from the URI.
func TestParseURINeverQuotesSecrets(t *testing.T) {
	const secret = "s3cr3tpw"
	for _, uri := range []string{
		"postgresql://u:" + secret + "@host:badport/db",
		"postgresql://u:" + secret + "@host:26257/db?sslmode=bogus",
		"postgresql://u:" + secret + "@host:26257/db?a=%zz",
		"postgresql://u:" + secret + "#x@host/db",
		"postgresql://u:" + secret + "@ho st/db",
		"postgresql://u@host/db?sslinline=true&sslrootcert=" + secret,
		"postgresql://u@host/db?sslinline=true&sslrootcert=-----BEGIN+CERTIFICATE-----" + secret,
		"postgresql://u@host/db?sslinline=true&sslrootcert=x&sslcert=-----BEGIN" + secret + "&sslkey=-----BEGIN+" + secret,
		"postgres://u:" + secret + "@[::1/db",
		"mysql://u:" + secret + "@host/db",
	} {
		_, err := ParseURI(uri)
		if err == nil {
			t.Errorf("%s: no error", uri)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
}

// TestParsePGXConfig checks that the pgx form carries the same settings.
func TestParsePGXConfig(t *testing.T) {
	f := getFixtures(t)
	cfg, err := ParsePGXConfig("postgresql://repl:pw@localhost:5555/db?options=-ccluster=system&sslrootcert=" + filepath.Join(f.certsDir, CACertFilename))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "localhost" || cfg.Port != 5555 || cfg.User != "repl" || cfg.Password != "pw" ||
		cfg.Database != "db" || cfg.RuntimeParams["options"] != "-ccluster=system" || cfg.TLSConfig == nil {
		t.Fatalf("unexpected config %+v", cfg.Config)
	}
}

// TestParseURIRoute checks crdb_route, which only the replication client
// reads.
func TestParseURIRoute(t *testing.T) {
	u, err := ParseURIFields("postgresql://u@h?sslmode=disable&crdb_route=gateway")
	if err != nil || u.Route != "gateway" || len(u.RuntimeParams) != 0 {
		t.Fatalf("got %+v, %v", u, err)
	}
	if _, err := ParseURIFields("postgresql://u@h?crdb_route=elsewhere"); err == nil {
		t.Fatal("unknown crdb_route accepted")
	}
}
