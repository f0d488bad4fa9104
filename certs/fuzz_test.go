package certs

import (
	"crypto/tls"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseURI feeds arbitrary text to the connection URI parser, a trust
// boundary (URIs come from users, external connections and replication
// streams). Seeds live in testdata/fuzz/FuzzParseURI and run in `make test`.
//
// Properties: the parser never panics; a URI it accepts has a host and a
// port, formats back to a URI that parses to the same fields (String is the
// inverse of ParseURIFields), never sends a client-side parameter (password,
// certificate material, sslmode) to the server as a startup parameter, and
// never builds a TLS configuration below TLS 1.2.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"postgresql://root@localhost:26257/defaultdb?sslmode=disable",
		"postgresql://repl:pw@host:26257/defaultdb?options=-ccluster%3Dsystem&sslinline=true&sslmode=verify-full&sslrootcert=-----BEGIN+CERTIFICATE-----%0AMIIB%0A-----END+CERTIFICATE-----%0A",
		"postgresql://root@localhost:26257?options=-ccluster=system&sslmode=require",
		"postgres://a:b@[::1]:5432/cluster:main/db?sslmode=disable&application_name=x",
		"postgresql://root@/db?host=/tmp&sslmode=disable",
		"postgresql://u@h?sslmode=disable&connect_timeout=3&crdb_route=gateway",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURIFields(s)
		if err != nil {
			return
		}
		if u.Host == "" || u.Port == 0 || u.User == "" {
			t.Fatalf("%q: incomplete result %+v", s, u)
		}
		for k := range u.RuntimeParams {
			if clientOnlyParams[k] || unsupportedParams[k] {
				t.Fatalf("%q: client parameter %q would be sent to the server", s, k)
			}
		}
		again, err := ParseURIFields(u.String())
		if err != nil {
			t.Fatalf("%q: formatted as %q, which does not parse: %v", s, u.String(), err)
		}
		if !reflect.DeepEqual(u, again) {
			t.Fatalf("%q: round trip through %q changed\n%+v\nto\n%+v", s, u.String(), u, again)
		}
		if strings.Contains(u.Redacted(), "@") && u.Password != "" && strings.Contains(u.Redacted(), ":"+u.Password+"@") {
			t.Fatalf("%q: Redacted shows the password", s)
		}
		// Building the TLS configuration may fail (files, PEM), but must not
		// panic, and must keep the TLS floor.
		if u.SSLInline || (u.RootCert == "" && u.Cert == "" && u.Key == "") {
			cfg, err := u.PGConnConfig()
			if err == nil && cfg.TLSConfig != nil && cfg.TLSConfig.MinVersion < tls.VersionTLS12 {
				t.Fatalf("%q: TLS below 1.2", s)
			}
		}
	})
}
