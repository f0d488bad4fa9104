package certs

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEncodeURIRoundTrip encodes every input form of `vcdb encode-uri`, with
// and without --inline and with each way of naming certificates, and checks
// that ParseURI reads back exactly the intended connection.
func TestEncodeURIRoundTrip(t *testing.T) {
	f := getFixtures(t)
	type want struct {
		host, user, password, db string
		port                     uint16
	}
	forms := []struct {
		addr string
		want want
	}{
		{"localhost", want{"localhost", "root", "", "defaultdb", 26257}},
		{"localhost:26000", want{"localhost", "root", "", "defaultdb", 26000}},
		{"repl@localhost", want{"localhost", "repl", "", "defaultdb", 26257}},
		{"repl@localhost:26000", want{"localhost", "repl", "", "defaultdb", 26000}},
		{"repl:pw@localhost:26257", want{"localhost", "repl", "pw", "defaultdb", 26257}},
		{"postgresql://repl:pw@localhost:26257", want{"localhost", "repl", "pw", "defaultdb", 26257}},
		{"postgres://repl:pw@localhost", want{"localhost", "repl", "pw", "defaultdb", 26257}},
		{"PostgreSQL://repl@127.0.0.1", want{"127.0.0.1", "repl", "", "defaultdb", 26257}},
		{"repl:pw@[::1]:26001", want{"::1", "repl", "pw", "defaultdb", 26001}},
		{"[::1]", want{"::1", "root", "", "defaultdb", 26257}},
		{"repl:p%40ss%3Aw%25rd@localhost", want{"localhost", "repl", "p@ss:w%rd", "defaultdb", 26257}},
		{"repl:p@ss@localhost", want{"localhost", "repl", "p@ss", "defaultdb", 26257}},
		{"repl:@localhost", want{"localhost", "repl", "", "defaultdb", 26257}},
		{"postgresql://repl:pw@localhost:26257/bank", want{"localhost", "repl", "pw", "bank", 26257}},
		{"postgresql://repl:pw@localhost:26257/", want{"localhost", "repl", "pw", "defaultdb", 26257}},
	}
	ca := filepath.Join(f.certsDir, CACertFilename)
	replCert, replKey := filepath.Join(f.certsDir, "client.repl.crt"), filepath.Join(f.certsDir, "client.repl.key")
	variants := []struct {
		name       string
		opts       EncodeOptions
		clientCert bool // a client certificate of the URI's user is included
	}{
		{name: "ca-cert", opts: EncodeOptions{CACert: ca}},
		{name: "ca-cert+cert+key", opts: EncodeOptions{CACert: ca, Cert: replCert, Key: replKey}, clientCert: true},
		// --certs-dir adds client.<user>.crt when it exists: repl and root
		// both have one in the fixtures.
		{name: "certs-dir", opts: EncodeOptions{CertsDir: f.certsDir}, clientCert: true},
	}
	for _, form := range forms {
		for _, v := range variants {
			for _, inline := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/inline=%v", form.addr, v.name, inline)
				t.Run(name, func(t *testing.T) {
					opts := v.opts
					opts.Inline = inline
					out, err := EncodeURI(form.addr, opts)
					if err != nil {
						t.Fatal(err)
					}
					if !strings.HasPrefix(out, "postgresql://") {
						t.Fatalf("no scheme: %s", out)
					}
					assertAlphabetical(t, out)
					cfg, err := ParseURI(out)
					if err != nil {
						t.Fatalf("ParseURI(%s): %v", out, err)
					}
					w := form.want
					if cfg.Host != w.host || cfg.Port != w.port || cfg.User != w.user || cfg.Password != w.password || cfg.Database != w.db {
						t.Fatalf("round trip of %s gave host=%s port=%d user=%s password=%q db=%s",
							out, cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database)
					}
					if len(cfg.RuntimeParams) != 1 || cfg.RuntimeParams["options"] != "-ccluster=system" {
						t.Fatalf("runtime params %v", cfg.RuntimeParams)
					}
					tls := describeTLS(t, f, cfg.TLSConfig)
					wantTLS := "verify-full server-name=" + w.host + " roots=certs"
					if v.clientCert {
						wantTLS += " client-cert=" + map[bool]string{true: "repl", false: w.user}[v.opts.CertsDir == ""]
					}
					if tls != wantTLS {
						t.Fatalf("TLS %q, want %q", tls, wantTLS)
					}
					if inline != strings.Contains(out, "sslinline=true") {
						t.Fatalf("sslinline in %s", out)
					}
					if inline && strings.Contains(out, url.QueryEscape(f.certsDir)) {
						t.Fatalf("inline URI names a file: %s", out)
					}
				})
			}
		}
	}
}

// assertAlphabetical checks the documented parameter order.
func assertAlphabetical(t *testing.T, uri string) {
	t.Helper()
	_, query, _ := strings.Cut(uri, "?")
	var prev string
	for _, kv := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if k <= prev {
			t.Fatalf("parameters out of order (%s after %s) in %s", k, prev, uri)
		}
		prev = k
	}
}

func TestEncodeURIErrors(t *testing.T) {
	f := getFixtures(t)
	ca := filepath.Join(f.certsDir, CACertFilename)
	notPEM := filepath.Join(t.TempDir(), "x.crt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		opts EncodeOptions
		want string
	}{
		{"", EncodeOptions{}, "no host"},
		{"repl:pw@", EncodeOptions{}, "no host"},
		{"repl@host:0", EncodeOptions{}, "invalid port"},
		{"repl@host:x", EncodeOptions{}, "invalid port"},
		{"::1", EncodeOptions{}, "in brackets"},
		{"[::1", EncodeOptions{}, "unterminated"},
		{"[nothost]:1", EncodeOptions{}, "invalid IPv6"},
		{"mysql://host", EncodeOptions{}, "unsupported scheme"},
		{"host?sslmode=disable", EncodeOptions{}, "no query parameters"},
		{"repl:p%zz@host", EncodeOptions{}, "invalid %-escape in the password"},
		{"@host", EncodeOptions{}, "empty user name"},
		{"repl@host", EncodeOptions{User: "other"}, "--user"},
		{"host", EncodeOptions{Inline: true}, "--inline needs"},
		{"host", EncodeOptions{CACert: ca, Cert: ca}, "together"},
		{"host", EncodeOptions{CACert: "/nonexistent/ca.crt"}, "does not exist"},
		{"host", EncodeOptions{CACert: notPEM, Inline: true}, "no PEM certificate"},
	} {
		_, err := EncodeURI(tc.addr, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("EncodeURI(%q, %+v) = %v, want an error containing %q", tc.addr, tc.opts, err, tc.want)
		}
	}
}
