package certs

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
)

// Usage names the role of a certificate file in a certs directory.
type Usage string

// The usages `vcdb cert list` reports, in the order it lists them.
const (
	UsageCA     Usage = "CA"
	UsageNode   Usage = "Node"
	UsageClient Usage = "Client"
	UsageCAKey  Usage = "CA key"
)

// CertInfo describes one certificate (or CA bundle) found in a certs
// directory, and every problem that would make a server or client refuse it.
type CertInfo struct {
	Usage    Usage
	CertFile string // base name, empty for a stray CA key
	KeyFile  string // base name, empty for ca.crt
	// Expires is the earliest NotAfter of the file's certificates.
	Expires time.Time
	// Notes: "num certs: N" for the CA, "addresses: ..." for the node, "user:
	// U" for a client.
	Notes string
	// Problems lists what is wrong (expired, not yet valid, key missing, key
	// permissions, key not matching, not signed by ca.crt, wrong CN). Empty
	// when the pair is usable.
	Problems []string
}

// List inspects certsDir at time now: ca.crt, node.crt/node.key and every
// client.<user>.crt/.key. Files it does not recognise are ignored. A CA key
// left in the directory is reported as a problem.
func List(certsDir string, now time.Time) ([]CertInfo, error) {
	entries, err := os.ReadDir(certsDir)
	if err != nil {
		return nil, errors.Wrap(err, "reading the certs directory")
	}
	var out []CertInfo
	var roots *x509.CertPool
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		names[e.Name()] = true
	}

	if names[CACertFilename] {
		info := CertInfo{Usage: UsageCA, CertFile: CACertFilename}
		cas, err := readCertFile(filepath.Join(certsDir, CACertFilename))
		if err != nil {
			info.Problems = append(info.Problems, err.Error())
		} else {
			roots = x509.NewCertPool()
			for _, c := range cas {
				roots.AddCert(c)
				if info.Expires.IsZero() || c.NotAfter.Before(info.Expires) {
					info.Expires = c.NotAfter
				}
				info.Problems = append(info.Problems, validityProblems(c, now)...)
				if !c.IsCA {
					info.Problems = append(info.Problems, "certificate "+c.Subject.CommonName+" is not a CA")
				}
			}
			info.Notes = "num certs: " + strconv.Itoa(len(cas))
		}
		out = append(out, info)
	}
	if names["ca.key"] {
		out = append(out, CertInfo{Usage: UsageCAKey, KeyFile: "ca.key",
			Problems: []string{"the CA key must be kept outside the certs directory"}})
	}
	if names[NodeCertFilename] || names[NodeKeyFilename] {
		out = append(out, inspectPair(certsDir, UsageNode, NodeCertFilename, NodeKeyFilename, NodeUser, roots, now))
	}
	var clients []string
	for n := range names {
		if strings.HasPrefix(n, clientPrefix) && strings.HasSuffix(n, ".crt") {
			clients = append(clients, strings.TrimSuffix(strings.TrimPrefix(n, clientPrefix), ".crt"))
		}
	}
	sort.Strings(clients)
	for _, u := range clients {
		out = append(out, inspectPair(certsDir, UsageClient, ClientCertFilename(u), ClientKeyFilename(u), u, roots, now))
	}
	return out, nil
}

func inspectPair(
	dir string, usage Usage, certFile, keyFile, wantCN string, roots *x509.CertPool, now time.Time,
) CertInfo {
	info := CertInfo{Usage: usage, CertFile: certFile, KeyFile: keyFile}
	problem := func(s string) { info.Problems = append(info.Problems, s) }
	certs, err := readCertFile(filepath.Join(dir, certFile))
	if err != nil {
		problem(err.Error())
		return info
	}
	leaf := certs[0]
	info.Expires = leaf.NotAfter
	switch usage {
	case UsageNode:
		var addrs []string
		addrs = append(addrs, leaf.DNSNames...)
		for _, ip := range leaf.IPAddresses {
			addrs = append(addrs, ip.String())
		}
		info.Notes = "addresses: " + strings.Join(addrs, ",")
	case UsageClient:
		info.Notes = "user: " + leaf.Subject.CommonName
	}
	if leaf.Subject.CommonName != wantCN {
		problem("common name is " + leaf.Subject.CommonName + ", want " + wantCN)
	}
	info.Problems = append(info.Problems, validityProblems(leaf, now)...)
	if roots == nil {
		problem("no " + CACertFilename + " to verify against")
	} else if err := verifyLeaf(leaf, certs[1:], roots, now); err != nil {
		var unknown x509.UnknownAuthorityError
		if errors.As(err, &unknown) {
			problem("not signed by a CA in " + CACertFilename)
		} else {
			problem("does not verify against " + CACertFilename + ": " + err.Error())
		}
	}
	keyPath := filepath.Join(dir, keyFile)
	if _, err := os.Stat(keyPath); err != nil {
		problem("key file " + keyFile + " missing")
		return info
	}
	if err := CheckKeyPermissions(keyPath); err != nil {
		problem(err.Error())
	}
	key, err := readKeyFile(keyPath)
	if err != nil {
		problem(err.Error())
	} else if !samePublicKey(leaf, key) {
		problem("key " + keyFile + " does not match the certificate")
	}
	return info
}

// verifyLeaf checks the chain only: the validity window is reported
// separately, so the time given to x509 is one inside the leaf's window.
func verifyLeaf(leaf *x509.Certificate, intermediates []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	at := now
	if at.After(leaf.NotAfter) || at.Before(leaf.NotBefore) {
		at = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err
}

// ListDateFormat is how `vcdb cert list` prints expiry dates (CockroachDB's
// layout).
const ListDateFormat = "2006/01/02"

func validityProblems(c *x509.Certificate, now time.Time) []string {
	switch {
	case now.After(c.NotAfter):
		return []string{"expired on " + c.NotAfter.UTC().Format(ListDateFormat)}
	case now.Before(c.NotBefore):
		return []string{"not valid before " + c.NotBefore.UTC().Format(time.RFC3339)}
	}
	return nil
}
