package certs

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"time"

	"github.com/cockroachdb/errors"
)

// LoadServerTLSConfig builds the TLS configuration of a secure vcdb node from
// certsDir: it presents node.crt/node.key, accepts TLS 1.2 and later only,
// and verifies a client certificate against ca.crt when the client presents
// one (password clients present none; the server decides per connection
// whether a certificate is needed, see ClientCertUser).
//
// It refuses a key file readable by others (CheckKeyPermissions), a node
// certificate that is expired, not yet valid, not issued for "node", not
// signed by a CA in ca.crt, or not matching its key. The CA key is never read.
func LoadServerTLSConfig(certsDir string) (*tls.Config, error) {
	return loadServerTLSConfig(certsDir, time.Now())
}

func loadServerTLSConfig(certsDir string, now time.Time) (*tls.Config, error) {
	caPath := filepath.Join(certsDir, CACertFilename)
	certPath := filepath.Join(certsDir, NodeCertFilename)
	keyPath := filepath.Join(certsDir, NodeKeyFilename)

	cas, err := readCertFile(caPath)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	if err := CheckKeyPermissions(keyPath); err != nil {
		return nil, err
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, errors.Wrapf(err, "loading %s and %s", certPath, keyPath)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, errors.Wrapf(err, "parsing %s", certPath)
		}
	}
	if leaf.Subject.CommonName != NodeUser {
		return nil, errors.Newf("%s has common name %q, want %q", certPath, leaf.Subject.CommonName, NodeUser)
	}
	if p := validityProblems(leaf, now); len(p) > 0 {
		return nil, errors.Newf("%s: certificate %s", certPath, p[0])
	}
	inter := x509.NewCertPool()
	for _, der := range pair.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, errors.Wrapf(err, "parsing %s", certPath)
		}
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return nil, errors.Wrapf(err, "%s is not signed by a CA in %s", certPath, caPath)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		ClientCAs:    roots,
		// Password logins present no certificate; a presented one must
		// verify against ca.crt or the handshake fails.
		ClientAuth: tls.VerifyClientCertIfGiven,
	}, nil
}

// ClientCertUser returns the SQL user a client certificate authenticates: the
// common name of the leaf of a chain the handshake verified against ca.crt.
// ok is false when the client presented no certificate. The server must still
// check that this user is the one named in the startup message.
func ClientCertUser(cs tls.ConnectionState) (user string, ok bool) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", false
	}
	cn := cs.VerifiedChains[0][0].Subject.CommonName
	if cn == "" {
		return "", false
	}
	return cn, true
}
