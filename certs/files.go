package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/cockroachdb/errors"
)

// File names inside a certificates directory, as in CockroachDB (§2.3 of the
// fact sheet). The CA key has no fixed name: it lives outside the directory.
const (
	CACertFilename   = "ca.crt"
	NodeCertFilename = "node.crt"
	NodeKeyFilename  = "node.key"
	clientPrefix     = "client."
)

// NodeUser is the common name of every node certificate.
const NodeUser = "node"

// File modes. Keys are readable by their owner only; certificates are public.
// The directory is private because it also holds keys.
const (
	keyFileMode  os.FileMode = 0o600
	certFileMode os.FileMode = 0o644
	dirMode      os.FileMode = 0o700
)

// ClientCertFilename is the certificate file of a client user.
func ClientCertFilename(user string) string { return clientPrefix + user + ".crt" }

// ClientKeyFilename is the key file of a client user.
func ClientKeyFilename(user string) string { return clientPrefix + user + ".key" }

// userNameRE is the shape of a SQL user name that may appear in a client
// certificate file name: CockroachDB's normalized (lower-case) identifiers,
// without the characters that would make the file name ambiguous or a path.
var userNameRE = regexp.MustCompile(`^[a-z0-9_][a-z0-9_.\-]{0,62}$`)

// NormalizeUser lower-cases a user name as SQL does for unquoted identifiers
// and checks that it can name a client certificate.
func NormalizeUser(user string) (string, error) {
	u := strings.ToLower(user)
	if !userNameRE.MatchString(u) || u == "." || u == ".." {
		return "", errors.Newf("invalid user name %q: use letters, digits, '_', '.' and '-' (at most 63)", user)
	}
	return u, nil
}

// writePEMFile writes blocks to path with mode, refusing to replace an
// existing file unless overwrite is set. The file is written under a temporary
// name and renamed, so a crash never leaves a half-written key behind, and the
// mode is set before any secret byte is written.
func writePEMFile(path string, mode os.FileMode, overwrite bool, blocks ...*pem.Block) error {
	if !overwrite {
		if _, err := os.Stat(path); err == nil {
			return errors.Newf("file %s already exists; use --overwrite to replace it", path)
		} else if !os.IsNotExist(err) {
			return errors.Wrapf(err, "checking %s", path)
		}
	}
	var buf []byte
	for _, b := range blocks {
		buf = append(buf, pem.EncodeToMemory(b)...)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return errors.Wrapf(err, "writing %s", path)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return errors.Wrapf(err, "writing %s", path)
	}
	if _, err := tmp.Write(buf); err != nil {
		_ = tmp.Close()
		return errors.Wrapf(err, "writing %s", path)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return errors.Wrapf(err, "writing %s", path)
	}
	if err := tmp.Close(); err != nil {
		return errors.Wrapf(err, "writing %s", path)
	}
	return errors.Wrapf(os.Rename(tmp.Name(), path), "writing %s", path)
}

// readCertFile parses every CERTIFICATE block of a PEM file.
func readCertFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrapf(err, "reading certificate")
	}
	certs, err := parseCertsPEM(data)
	if err != nil {
		return nil, errors.Wrapf(err, "%s", path)
	}
	return certs, nil
}

// parseCertsPEM parses every CERTIFICATE block of data; it fails when there is
// none or when data holds anything else.
func parseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, errors.Newf("unexpected PEM block %q, want CERTIFICATE", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, errors.Wrap(err, "parsing certificate")
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, errors.New("trailing data after the last PEM certificate")
	}
	return certs, nil
}

// readKeyFile parses a PEM private key (PKCS#1, PKCS#8 or SEC 1).
func readKeyFile(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrapf(err, "reading key")
	}
	k, err := parseKeyPEM(data)
	if err != nil {
		return nil, errors.Wrapf(err, "%s", path)
	}
	return k, nil
}

func parseKeyPEM(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM private key found")
	}
	var key any
	var err error
	switch b.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, errors.Newf("unexpected PEM block %q, want a private key", b.Type)
	}
	if err != nil {
		return nil, errors.Wrap(err, "parsing private key")
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.Newf("unsupported private key type %T", key)
	}
	return s, nil
}

// keyPEM encodes an RSA key as PKCS#1, the form CockroachDB writes and every
// libpq and Go client reads.
func keyPEM(k *rsa.PrivateKey) *pem.Block {
	return &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
}

func certPEM(der []byte) *pem.Block {
	return &pem.Block{Type: "CERTIFICATE", Bytes: der}
}

// serialNumber is a random 128-bit serial, as RFC 5280 §4.1.2.2 recommends
// (unique per CA without keeping state).
func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, errors.Wrap(err, "generating serial number")
	}
	return n, nil
}

// samePublicKey reports whether the certificate was issued for key.
func samePublicKey(c *x509.Certificate, key crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	return ok && pub.Equal(c.PublicKey)
}
