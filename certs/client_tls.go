package certs

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"

	"github.com/cockroachdb/errors"
)

// RootCertSystem as sslrootcert selects the system's trusted roots (libpq 16's
// spelling).
const RootCertSystem = "system"

// TLSConfig builds the client TLS configuration the URI asks for, or nil for
// sslmode=disable and Unix sockets (libpq ignores TLS settings there too).
//
// With sslinline=true the certificate parameters hold PEM text; otherwise they
// are file paths, and a client key file must pass CheckKeyPermissions.
func (u *URI) TLSConfig() (*tls.Config, error) {
	if u.SSLMode == SSLModeDisable || strings.HasPrefix(u.Host, "/") {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	// SNI carries host names only (RFC 6066 §3).
	if net.ParseIP(u.Host) == nil {
		cfg.ServerName = u.Host
	}

	var roots *x509.CertPool
	if u.RootCert != "" {
		if u.RootCert == RootCertSystem && !u.SSLInline {
			pool, err := x509.SystemCertPool()
			if err != nil {
				return nil, errors.Wrap(err, "loading the system root certificates")
			}
			roots = pool
		} else {
			data, err := u.material(u.RootCert, "sslrootcert")
			if err != nil {
				return nil, err
			}
			cas, err := parseCertsPEM(data)
			if err != nil {
				return nil, errors.Wrap(err, "sslrootcert")
			}
			roots = x509.NewCertPool()
			for _, c := range cas {
				roots.AddCert(c)
			}
		}
	}

	if (u.Cert == "") != (u.Key == "") {
		return nil, errors.New("invalid connection URI: sslcert and sslkey must be given together")
	}
	if u.Cert != "" {
		certPEM, err := u.material(u.Cert, "sslcert")
		if err != nil {
			return nil, err
		}
		if !u.SSLInline {
			if err := CheckKeyPermissions(u.Key); err != nil {
				return nil, err
			}
		}
		keyPEM, err := u.material(u.Key, "sslkey")
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, errors.Wrap(err, "sslcert/sslkey")
		}
		cfg.Certificates = []tls.Certificate{pair}
	}

	mode := u.SSLMode
	if mode == SSLModeRequire && roots != nil {
		// libpq: "if a root CA file exists, sslmode=require behaves like
		// verify-ca".
		mode = SSLModeVerifyCA
	}
	switch mode {
	case SSLModeRequire:
		cfg.InsecureSkipVerify = true
	case SSLModeVerifyCA:
		if roots == nil {
			return nil, errors.New("invalid connection URI: sslmode=verify-ca needs sslrootcert")
		}
		// Go verifies chain and name together; verify-ca wants the chain
		// only, so the standard check is off and this callback does it.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyChainOnly(cs, roots)
		}
	case SSLModeVerifyFull:
		if roots == nil {
			return nil, errors.New("invalid connection URI: sslmode=verify-full needs sslrootcert (a file, inline PEM with sslinline=true, or \"system\")")
		}
		cfg.RootCAs = roots
		cfg.ServerName = u.Host
	}
	return cfg, nil
}

// material returns PEM bytes for a certificate parameter: the value itself
// when inline, else the file's contents.
func (u *URI) material(v, name string) ([]byte, error) {
	if u.SSLInline {
		if !strings.Contains(v, "-----BEGIN") {
			return nil, errors.Newf("invalid connection URI: %s is not PEM text although sslinline=true", name)
		}
		return []byte(v), nil
	}
	data, err := os.ReadFile(v)
	if err != nil {
		if strings.Contains(v, "-----BEGIN") {
			return nil, errors.Newf("invalid connection URI: %s holds PEM text; add sslinline=true", name)
		}
		return nil, errors.Wrapf(err, "reading %s", name)
	}
	return data, nil
}

func verifyChainOnly(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}
