package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/errors"
)

// Defaults, as CockroachDB's `cockroach cert` (pkg/cli/cliflags): the CA lives
// ten years of 366 days, node and client certificates five, and RSA keys have
// 2048 bits.
const (
	DefaultCALifetime   = 10 * 366 * 24 * time.Hour
	DefaultCertLifetime = 5 * 366 * 24 * time.Hour
	DefaultKeySize      = 2048
	// MinKeySize is Go's own floor for RSA keys (crypto/rsa refuses smaller
	// ones since Go 1.24).
	MinKeySize = 1024
)

// backdate is subtracted from "now" for NotBefore so that a certificate is
// valid at once on a peer whose clock is a little behind.
const backdate = time.Hour

// Organization is the subject organization of every certificate vcdb issues.
const Organization = "vcdb"

// CACommonName is the subject common name of a vcdb CA certificate.
const CACommonName = "vcdb CA"

// Options tune certificate creation. Zero values mean the defaults.
type Options struct {
	// KeySize is the RSA key size in bits.
	KeySize int
	// Lifetime is how long the certificate is valid from now.
	Lifetime time.Duration
	// Overwrite replaces existing certificate and key files. Without it,
	// create-node and create-client refuse to replace a file, and create-ca
	// appends the new CA certificate to an existing ca.crt (CA rotation: peers
	// trust old and new CA until the old one is removed).
	Overwrite bool
	// AllowCAKeyReuse lets create-ca sign a new CA certificate with an
	// existing CA key instead of refusing.
	AllowCAKeyReuse bool
	// Now is the clock; tests inject a fixed time.
	Now func() time.Time
}

func (o Options) keySize() (int, error) {
	if o.KeySize == 0 {
		return DefaultKeySize, nil
	}
	if o.KeySize < MinKeySize {
		return 0, errors.Newf("key size %d is too small: use at least %d bits", o.KeySize, MinKeySize)
	}
	return o.KeySize, nil
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) lifetime(def time.Duration) (time.Duration, error) {
	if o.Lifetime == 0 {
		return def, nil
	}
	if o.Lifetime < 0 {
		return 0, errors.Newf("lifetime %s must be positive", o.Lifetime)
	}
	return o.Lifetime, nil
}

// CreateCA creates (or, with AllowCAKeyReuse, reuses) the CA key at caKeyPath
// and writes a self-signed CA certificate to certsDir/ca.crt. The CA key must
// live outside certsDir: the certs directory is copied to every node and
// client, the CA key must not be.
func CreateCA(certsDir, caKeyPath string, opts Options) error {
	if caKeyPath == "" {
		return errors.New("the CA key path is required (--ca-key)")
	}
	if err := checkCAKeyOutside(certsDir, caKeyPath); err != nil {
		return err
	}
	lifetime, err := opts.lifetime(DefaultCALifetime)
	if err != nil {
		return err
	}
	if err := ensureDir(certsDir); err != nil {
		return err
	}
	if err := ensureDir(filepath.Dir(caKeyPath)); err != nil {
		return err
	}

	var key crypto.Signer
	if _, statErr := os.Stat(caKeyPath); statErr == nil {
		if !opts.AllowCAKeyReuse {
			return errors.Newf("CA key %s already exists; use --allow-ca-key-reuse to sign a new CA certificate with it", caKeyPath)
		}
		if err := CheckKeyPermissions(caKeyPath); err != nil {
			return err
		}
		if key, err = readKeyFile(caKeyPath); err != nil {
			return err
		}
	} else if !os.IsNotExist(statErr) {
		return errors.Wrap(statErr, "checking the CA key")
	} else {
		size, err := opts.keySize()
		if err != nil {
			return err
		}
		rsaKey, err := rsa.GenerateKey(rand.Reader, size)
		if err != nil {
			return errors.Wrap(err, "generating the CA key")
		}
		if err := writePEMFile(caKeyPath, keyFileMode, false, keyPEM(rsaKey)); err != nil {
			return err
		}
		key = rsaKey
	}

	now := opts.now()
	serial, err := serialNumber()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{Organization}, CommonName: CACommonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(lifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return errors.Wrap(err, "signing the CA certificate")
	}

	// Without --overwrite a new CA certificate joins the existing ones, so
	// that certificates signed by the old CA stay trusted during rotation.
	caPath := filepath.Join(certsDir, CACertFilename)
	blocks := []*x509.Certificate(nil)
	if !opts.Overwrite {
		if existing, err := readCertFile(caPath); err == nil {
			blocks = existing
		} else if _, statErr := os.Stat(caPath); statErr == nil {
			return errors.Wrapf(err, "existing %s is unreadable; use --overwrite to replace it", caPath)
		}
	}
	pemBlocks := make([]*pem.Block, 0, len(blocks)+1)
	for _, c := range blocks {
		pemBlocks = append(pemBlocks, certPEM(c.Raw))
	}
	pemBlocks = append(pemBlocks, certPEM(der))
	return writePEMFile(caPath, certFileMode, true, pemBlocks...)
}

// CreateNode writes node.crt and node.key to certsDir: CN "node", the hosts
// as subject alternative names (IP addresses or DNS names, wildcards
// allowed), usable as server and as client certificate.
func CreateNode(certsDir, caKeyPath string, hosts []string, opts Options) error {
	if len(hosts) == 0 {
		return errors.New("create-node needs at least one host name or address")
	}
	var dnsNames []string
	var ips []net.IP
	for _, h := range hosts {
		if h == "" {
			return errors.New("empty host name")
		}
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			dnsNames = append(dnsNames, h)
		}
	}
	return createLeaf(certsDir, caKeyPath, opts, leafSpec{
		commonName: NodeUser,
		dnsNames:   dnsNames,
		ips:        ips,
		extUsage:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		certFile:   NodeCertFilename,
		keyFile:    NodeKeyFilename,
	})
}

// CreateClient writes client.<user>.crt and client.<user>.key to certsDir,
// CN the (normalized) user name, usable for client authentication only.
func CreateClient(certsDir, caKeyPath, user string, opts Options) error {
	u, err := NormalizeUser(user)
	if err != nil {
		return err
	}
	return createLeaf(certsDir, caKeyPath, opts, leafSpec{
		commonName: u,
		extUsage:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		certFile:   ClientCertFilename(u),
		keyFile:    ClientKeyFilename(u),
	})
}

type leafSpec struct {
	commonName        string
	dnsNames          []string
	ips               []net.IP
	extUsage          []x509.ExtKeyUsage
	certFile, keyFile string
}

func createLeaf(certsDir, caKeyPath string, opts Options, spec leafSpec) error {
	if caKeyPath == "" {
		return errors.New("the CA key path is required (--ca-key)")
	}
	lifetime, err := opts.lifetime(DefaultCertLifetime)
	if err != nil {
		return err
	}
	size, err := opts.keySize()
	if err != nil {
		return err
	}
	caCert, caKey, err := loadCA(certsDir, caKeyPath)
	if err != nil {
		return err
	}
	certPath := filepath.Join(certsDir, spec.certFile)
	keyPath := filepath.Join(certsDir, spec.keyFile)
	if !opts.Overwrite {
		for _, p := range []string{certPath, keyPath} {
			if _, err := os.Stat(p); err == nil {
				return errors.Newf("file %s already exists; use --overwrite to replace it", p)
			}
		}
	}

	now := opts.now()
	notAfter := now.Add(lifetime)
	if now.Before(caCert.NotBefore) || now.After(caCert.NotAfter) {
		return errors.Newf("the CA certificate is not valid now (valid %s to %s)",
			caCert.NotBefore.UTC().Format(time.RFC3339), caCert.NotAfter.UTC().Format(time.RFC3339))
	}
	if notAfter.After(caCert.NotAfter) {
		return errors.Newf("the requested lifetime ends %s, after the CA certificate expires (%s); use a shorter --lifetime",
			notAfter.UTC().Format(time.RFC3339), caCert.NotAfter.UTC().Format(time.RFC3339))
	}
	key, err := rsa.GenerateKey(rand.Reader, size)
	if err != nil {
		return errors.Wrap(err, "generating key")
	}
	serial, err := serialNumber()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{Organization}, CommonName: spec.commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           spec.extUsage,
		BasicConstraintsValid: true,
		DNSNames:              spec.dnsNames,
		IPAddresses:           spec.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return errors.Wrap(err, "signing certificate")
	}
	// The key goes first: a certificate without its key is useless, a key
	// without its certificate is only a leftover the next --overwrite replaces.
	if err := writePEMFile(keyPath, keyFileMode, opts.Overwrite, keyPEM(key)); err != nil {
		return err
	}
	return writePEMFile(certPath, certFileMode, opts.Overwrite, certPEM(der))
}

// loadCA reads the CA key and picks, among the certificates of
// certsDir/ca.crt, the one issued for that key (ca.crt may hold several CAs
// during a rotation).
func loadCA(certsDir, caKeyPath string) (*x509.Certificate, crypto.Signer, error) {
	if err := CheckKeyPermissions(caKeyPath); err != nil {
		return nil, nil, err
	}
	key, err := readKeyFile(caKeyPath)
	if err != nil {
		return nil, nil, err
	}
	cas, err := readCertFile(filepath.Join(certsDir, CACertFilename))
	if err != nil {
		return nil, nil, errors.Wrapf(err, "run `vcdb cert create-ca` first")
	}
	for i := len(cas) - 1; i >= 0; i-- {
		if samePublicKey(cas[i], key) {
			return cas[i], key, nil
		}
	}
	return nil, nil, errors.Newf("CA key %s does not match any certificate in %s",
		caKeyPath, filepath.Join(certsDir, CACertFilename))
}

// checkCAKeyOutside refuses a CA key inside the certs directory.
func checkCAKeyOutside(certsDir, caKeyPath string) error {
	dir, err := filepath.Abs(certsDir)
	if err != nil {
		return errors.Wrap(err, "resolving the certs directory")
	}
	keyDir, err := filepath.Abs(filepath.Dir(caKeyPath))
	if err != nil {
		return errors.Wrap(err, "resolving the CA key path")
	}
	if keyDir == dir {
		return errors.Newf("the CA key %s must be kept outside the certs directory %s, which is copied to nodes and clients",
			caKeyPath, certsDir)
	}
	return nil
}

// ensureDir creates dir (private) when it does not exist.
func ensureDir(dir string) error {
	if dir == "" {
		return errors.New("the certs directory is required (--certs-dir)")
	}
	return errors.Wrapf(os.MkdirAll(dir, dirMode), "creating %s", dir)
}
