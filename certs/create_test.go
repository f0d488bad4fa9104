package certs

import (
	"crypto/rsa"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustReadCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	cs, err := readCertFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return cs[0]
}

func mustMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %#o, want %#o", filepath.Base(path), got, want)
	}
}

func TestCreateFilesNamesAndFields(t *testing.T) {
	f := getFixtures(t)
	ca := mustReadCert(t, filepath.Join(f.certsDir, CACertFilename))
	if !ca.IsCA || ca.Subject.CommonName != CACommonName || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA certificate: IsCA=%v CN=%q usage=%v", ca.IsCA, ca.Subject.CommonName, ca.KeyUsage)
	}
	node := mustReadCert(t, filepath.Join(f.certsDir, NodeCertFilename))
	if node.Subject.CommonName != "node" {
		t.Errorf("node CN = %q", node.Subject.CommonName)
	}
	if !reflect.DeepEqual(node.DNSNames, []string{"localhost"}) {
		t.Errorf("node DNS SANs = %v", node.DNSNames)
	}
	wantIPs := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	if len(node.IPAddresses) != 2 || !node.IPAddresses[0].Equal(wantIPs[0]) || !node.IPAddresses[1].Equal(wantIPs[1]) {
		t.Errorf("node IP SANs = %v", node.IPAddresses)
	}
	if !reflect.DeepEqual(node.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("node ext usage = %v", node.ExtKeyUsage)
	}
	client := mustReadCert(t, filepath.Join(f.certsDir, "client.repl.crt"))
	if client.Subject.CommonName != "repl" || !reflect.DeepEqual(client.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("client CN=%q usage=%v", client.Subject.CommonName, client.ExtKeyUsage)
	}
	for _, c := range []*x509.Certificate{node, client} {
		if err := c.CheckSignatureFrom(ca); err != nil {
			t.Errorf("%s not signed by the CA: %v", c.Subject.CommonName, err)
		}
		if k := c.PublicKey.(*rsa.PublicKey); k.N.BitLen() != testKeySize {
			t.Errorf("%s key size %d", c.Subject.CommonName, k.N.BitLen())
		}
	}
	mustMode(t, f.caKey, 0o600)
	mustMode(t, filepath.Join(f.certsDir, NodeKeyFilename), 0o600)
	mustMode(t, filepath.Join(f.certsDir, "client.root.key"), 0o600)
	mustMode(t, filepath.Join(f.certsDir, NodeCertFilename), 0o644)
	mustMode(t, f.certsDir, 0o700)
	// No temporary file is left behind.
	entries, _ := os.ReadDir(f.certsDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover file %s", e.Name())
		}
	}
}

func TestCreateDefaults(t *testing.T) {
	dir := t.TempDir()
	certsDir, caKey := filepath.Join(dir, "certs"), filepath.Join(dir, "safe", "ca.key")
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := Options{Now: func() time.Time { return now }}
	if err := CreateCA(certsDir, caKey, opts); err != nil {
		t.Fatal(err)
	}
	// The default key size is used for the CA only, so the test stays fast.
	ca := mustReadCert(t, filepath.Join(certsDir, CACertFilename))
	if k := ca.PublicKey.(*rsa.PublicKey); k.N.BitLen() != DefaultKeySize {
		t.Errorf("CA key size %d, want %d", k.N.BitLen(), DefaultKeySize)
	}
	if !ca.NotAfter.Equal(now.Add(DefaultCALifetime)) || !ca.NotBefore.Equal(now.Add(-time.Hour)) {
		t.Errorf("CA validity %s..%s", ca.NotBefore, ca.NotAfter)
	}
	opts.KeySize = testKeySize
	if err := CreateClient(certsDir, caKey, "Alice", opts); err != nil {
		t.Fatal(err)
	}
	c := mustReadCert(t, filepath.Join(certsDir, "client.alice.crt"))
	if c.Subject.CommonName != "alice" || !c.NotAfter.Equal(now.Add(DefaultCertLifetime)) {
		t.Errorf("client CN %q NotAfter %s", c.Subject.CommonName, c.NotAfter)
	}
}

func TestCreateErrors(t *testing.T) {
	f := getFixtures(t)
	dir := t.TempDir()
	certsDir, caKey := filepath.Join(dir, "certs"), filepath.Join(dir, "safe", "ca.key")
	opts := testOpts()
	if err := CreateCA(certsDir, caKey, opts); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"CA key inside certs dir", func() error {
			return CreateCA(filepath.Join(dir, "c2"), filepath.Join(dir, "c2", "ca.key"), opts)
		}, "outside the certs directory"},
		{"CA key exists", func() error { return CreateCA(certsDir, caKey, opts) }, "--allow-ca-key-reuse"},
		{"no hosts", func() error { return CreateNode(certsDir, caKey, nil, opts) }, "at least one host"},
		{"bad user", func() error { return CreateClient(certsDir, caKey, "a/b", opts) }, "invalid user name"},
		{"small key", func() error {
			o := opts
			o.KeySize = 512
			return CreateClient(certsDir, caKey, "u", o)
		}, "too small"},
		{"outlives CA", func() error {
			o := opts
			o.Lifetime = DefaultCALifetime + time.Hour
			return CreateClient(certsDir, caKey, "u", o)
		}, "after the CA certificate expires"},
		{"wrong CA key", func() error { return CreateClient(certsDir, f.otherKey, "u", opts) }, "does not match"},
		{"no CA key", func() error { return CreateClient(certsDir, "", "u", opts) }, "--ca-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}

	// Without --overwrite an existing pair stays; with it, it is replaced.
	if err := CreateClient(certsDir, caKey, "bob", opts); err != nil {
		t.Fatal(err)
	}
	before := mustReadCert(t, filepath.Join(certsDir, "client.bob.crt"))
	if err := CreateClient(certsDir, caKey, "bob", opts); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Fatalf("second create-client: %v", err)
	}
	o := opts
	o.Overwrite = true
	if err := CreateClient(certsDir, caKey, "bob", o); err != nil {
		t.Fatal(err)
	}
	if after := mustReadCert(t, filepath.Join(certsDir, "client.bob.crt")); after.SerialNumber.Cmp(before.SerialNumber) == 0 {
		t.Error("--overwrite kept the old certificate")
	}

	// A CA key readable by others is refused.
	if err := os.Chmod(caKey, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CreateClient(certsDir, caKey, "carol", opts); err == nil || !strings.Contains(err.Error(), "permissions") {
		t.Fatalf("world-readable CA key: %v", err)
	}
}

func TestCreateCARotation(t *testing.T) {
	dir := t.TempDir()
	certsDir := filepath.Join(dir, "certs")
	key1, key2 := filepath.Join(dir, "k1", "ca.key"), filepath.Join(dir, "k2", "ca.key")
	opts := testOpts()
	if err := CreateCA(certsDir, key1, opts); err != nil {
		t.Fatal(err)
	}
	if err := CreateCA(certsDir, key2, opts); err != nil {
		t.Fatal(err)
	}
	cas, err := readCertFile(filepath.Join(certsDir, CACertFilename))
	if err != nil || len(cas) != 2 {
		t.Fatalf("ca.crt after rotation: %d certs, %v", len(cas), err)
	}
	// Either key signs, with its own certificate.
	for _, k := range []string{key1, key2} {
		o := opts
		o.Overwrite = true
		if err := CreateClient(certsDir, k, "u", o); err != nil {
			t.Fatal(err)
		}
		c := mustReadCert(t, filepath.Join(certsDir, "client.u.crt"))
		if err := c.CheckSignatureFrom(cas[0]); err != nil {
			if err := c.CheckSignatureFrom(cas[1]); err != nil {
				t.Errorf("client not signed by either CA")
			}
		}
	}
	// Reusing a key needs the flag; --overwrite replaces the bundle.
	o := opts
	o.AllowCAKeyReuse, o.Overwrite = true, true
	if err := CreateCA(certsDir, key1, o); err != nil {
		t.Fatal(err)
	}
	if cas, _ := readCertFile(filepath.Join(certsDir, CACertFilename)); len(cas) != 1 {
		t.Errorf("--overwrite left %d CA certificates", len(cas))
	}
}

func TestCheckKeyMode(t *testing.T) {
	const me, other = 1000, 1001
	for _, tc := range []struct {
		perm       os.FileMode
		owner, cur int
		ok         bool
	}{
		{0o600, me, me, true},
		{0o400, me, me, true},
		{0o700, me, me, true},
		{0o640, me, me, false},
		{0o644, me, me, false},
		{0o604, me, me, false},
		{0o640, 0, me, true},
		{0o740, 0, me, true},
		{0o660, 0, me, false},
		{0o644, 0, me, false},
		{0o600, other, me, false},
		{0o600, 0, 0, true},
		{0o640, 0, 0, true},
		{0o750, 0, 0, false},
	} {
		err := checkKeyMode(tc.perm, tc.owner, tc.cur)
		if (err == nil) != tc.ok {
			t.Errorf("mode %#o owner %d current %d: err=%v, want ok=%v", tc.perm, tc.owner, tc.cur, err, tc.ok)
		}
	}
}
