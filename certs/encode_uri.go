package certs

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cockroachdb/errors"
)

// EncodeOptions are the flags of `vcdb encode-uri` (fact sheet §2.5).
type EncodeOptions struct {
	// User is used when the address names none; naming a different one in
	// both places is an error. Default root.
	User string
	// Database is the path of the URI; default defaultdb.
	Database string
	// Cluster is the virtual cluster named in options=-ccluster=...; default
	// system (the replication source is always a system VC).
	Cluster string
	// CertsDir supplies ca.crt and, when both exist, client.<user>.crt/.key.
	CertsDir string
	// CACert, Cert and Key are file paths; they override CertsDir.
	CACert, Cert, Key string
	// Inline embeds the files' PEM text (sslinline=true) instead of paths.
	Inline bool
}

// DefaultEncodeDatabase and DefaultEncodeCluster are encode-uri's defaults.
const (
	DefaultEncodeDatabase = "defaultdb"
	DefaultEncodeCluster  = "system"
)

// EncodeURI turns an address `[postgresql://][USER[:PASSWORD]@]HOST[:PORT]`
// into the URI a standby uses to reach a primary's system VC:
//
//	postgresql://USER:PASSWORD@HOST:PORT/defaultdb?options=-ccluster%3Dsystem&sslinline=true&sslmode=verify-full&sslrootcert=<query-escaped PEM>
//
// Parameters are in alphabetical order (url.Values.Encode). With Inline, the
// certificates (and client key) are embedded, query-escaped; without it their
// paths are. Unlike CockroachDB v24–v25, an address without a scheme is read
// as an address, never as a URL whose scheme is the user name (§2.5).
//
// The user part is percent-decoded, as in any URI, so a password containing
// '@', ':' or '%' is written %40, %3A, %25; the last '@' separates it from the
// host.
func EncodeURI(addr string, opts EncodeOptions) (string, error) {
	a, err := parseAddress(addr)
	if err != nil {
		return "", err
	}
	user := a.user
	switch {
	case user == "" && opts.User != "":
		user = opts.User
	case user != "" && opts.User != "" && opts.User != user:
		return "", errors.Newf("the address names user %q but --user is %q", user, opts.User)
	case user == "":
		user = DefaultUser
	}
	db := opts.Database
	if db == "" {
		db = a.database
	}
	if db == "" {
		db = DefaultEncodeDatabase
	}
	cluster := opts.Cluster
	if cluster == "" {
		cluster = DefaultEncodeCluster
	}

	caCert, cert, key := opts.CACert, opts.Cert, opts.Key
	if opts.CertsDir != "" {
		if caCert == "" {
			caCert = filepath.Join(opts.CertsDir, CACertFilename)
		}
		if cert == "" && key == "" {
			c := filepath.Join(opts.CertsDir, ClientCertFilename(user))
			k := filepath.Join(opts.CertsDir, ClientKeyFilename(user))
			if fileExists(c) && fileExists(k) {
				cert, key = c, k
			}
		}
	}
	if (cert == "") != (key == "") {
		return "", errors.New("--cert and --key must be given together")
	}
	if opts.Inline && caCert == "" && cert == "" {
		return "", errors.New("--inline needs a certificate to inline: give --ca-cert, --cert/--key or --certs-dir")
	}

	q := url.Values{}
	q.Set("options", "-ccluster="+cluster)
	q.Set("sslmode", SSLModeVerifyFull)
	for _, p := range []struct{ param, path string }{
		{"sslrootcert", caCert}, {"sslcert", cert}, {"sslkey", key},
	} {
		if p.path == "" {
			continue
		}
		if !opts.Inline {
			if !fileExists(p.path) {
				return "", errors.Newf("%s: file %s does not exist", p.param, p.path)
			}
			q.Set(p.param, p.path)
			continue
		}
		data, err := os.ReadFile(p.path)
		if err != nil {
			return "", errors.Wrapf(err, "reading %s", p.param)
		}
		if p.param == "sslkey" {
			_, err = parseKeyPEM(data)
		} else {
			_, err = parseCertsPEM(data)
		}
		if err != nil {
			return "", errors.Wrapf(err, "%s %s", p.param, p.path)
		}
		q.Set(p.param, string(data))
	}
	if opts.Inline {
		q.Set("sslinline", "true")
	}

	out := url.URL{
		Scheme:   "postgresql",
		Host:     net.JoinHostPort(a.host, strconv.Itoa(int(a.port))),
		Path:     "/" + db,
		RawQuery: q.Encode(),
	}
	if a.hasPassword {
		out.User = url.UserPassword(user, a.password)
	} else {
		out.User = url.User(user)
	}
	return out.String(), nil
}

type address struct {
	user, password string
	hasPassword    bool
	host           string
	port           uint16
	database       string
}

// parseAddress reads `[postgres[ql]://][USER[:PASSWORD]@]HOST[:PORT][/DB]`.
func parseAddress(s string) (address, error) {
	var a address
	rest := s
	lower := strings.ToLower(rest)
	for _, scheme := range []string{"postgresql://", "postgres://"} {
		if strings.HasPrefix(lower, scheme) {
			rest = rest[len(scheme):]
			break
		}
	}
	if strings.Contains(rest, "://") {
		return a, errors.Newf("unsupported scheme in %q: use postgresql://", s)
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		userinfo := rest[:i]
		rest = rest[i+1:]
		rawUser, rawPass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if a.user, err = url.PathUnescape(rawUser); err != nil {
			return a, errors.New("invalid %-escape in the user name (write a literal % as %25)")
		}
		if a.user == "" {
			return a, errors.New("empty user name before '@'")
		}
		if hasPass {
			if a.password, err = url.PathUnescape(rawPass); err != nil {
				return a, errors.New("invalid %-escape in the password (write a literal % as %25)")
			}
			a.hasPassword = true
		}
	}
	if strings.ContainsAny(rest, "?#") {
		return a, errors.New("the address takes no query parameters: use encode-uri's flags")
	}
	hostport, db, _ := strings.Cut(rest, "/")
	if db != "" {
		d, err := url.PathUnescape(db)
		if err != nil {
			return a, errors.New("invalid %-escape in the database name")
		}
		a.database = d
	}
	a.port = DefaultPort
	host := hostport
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return a, errors.Newf("unterminated '[' in host %q", hostport)
		}
		host = hostport[1:end]
		after := hostport[end+1:]
		if after != "" {
			if !strings.HasPrefix(after, ":") {
				return a, errors.Newf("unexpected %q after the IPv6 address", after)
			}
			if err := a.setPort(after[1:]); err != nil {
				return a, err
			}
		}
		if net.ParseIP(host) == nil {
			return a, errors.Newf("invalid IPv6 address %q", host)
		}
	} else if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		if strings.Count(hostport, ":") > 1 {
			return a, errors.Newf("write an IPv6 address in brackets: [%s]", hostport)
		}
		host = hostport[:i]
		if err := a.setPort(hostport[i+1:]); err != nil {
			return a, err
		}
	}
	if host == "" {
		return a, errors.Newf("no host in %q: give [USER[:PASSWORD]@]HOST[:PORT]", s)
	}
	if strings.ContainsAny(host, " %,\\") {
		return a, errors.Newf("invalid host %q", host)
	}
	a.host = host
	return a, nil
}

func (a *address) setPort(s string) error {
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil || p == 0 {
		return errors.Newf("invalid port %q (want 1-65535)", s)
	}
	a.port = uint16(p)
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
