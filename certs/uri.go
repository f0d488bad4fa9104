package certs

import (
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Defaults of a vcdb connection URI that leaves parts out, as `cockroach sql`
// fills them: the node's default SQL port and the root user. The database is
// left to the server (defaultdb) when the URI names none.
const (
	DefaultHost = "localhost"
	DefaultPort = 26257
	DefaultUser = "root"
)

// sslmode values (libpq's names). vcdb accepts the four that never fall
// back to plaintext without being told to.
const (
	SSLModeDisable    = "disable"
	SSLModeRequire    = "require"
	SSLModeVerifyCA   = "verify-ca"
	SSLModeVerifyFull = "verify-full"
)

// clientOnlyParams are URI parameters that configure the client and are never
// sent to the server as startup parameters. crdb_route is a routing hint for
// the replication client (fact sheet §2.6), not a session setting.
var clientOnlyParams = map[string]bool{
	"host": true, "port": true, "user": true, "password": true, "dbname": true, "database": true,
	"sslmode": true, "sslinline": true, "sslrootcert": true, "sslcert": true, "sslkey": true,
	"connect_timeout": true, "fallback_application_name": true, "crdb_route": true,
}

// unsupportedParams are libpq client parameters vcdb does not implement.
// Passing them on as startup parameters would silently ignore what the user
// asked for, so they are refused instead.
var unsupportedParams = map[string]bool{
	"passfile": true, "service": true, "servicefile": true, "sslpassword": true, "sslcrl": true,
	"sslcrldir": true, "sslsni": true, "sslcompression": true, "sslcertmode": true,
	"sslnegotiation": true, "ssl_min_protocol_version": true, "ssl_max_protocol_version": true,
	"requirepeer": true, "krbsrvname": true, "krbspn": true, "gsslib": true, "gssencmode": true,
	"gssdelegation": true, "target_session_attrs": true, "load_balance_hosts": true,
	"channel_binding": true, "require_auth": true, "hostaddr": true, "keepalives": true,
	"keepalives_idle": true, "keepalives_interval": true, "keepalives_count": true,
	"tcp_user_timeout": true, "replication": true, "ssl": true, "min_protocol_version": true,
	"max_protocol_version": true,
}

// URI is a parsed vcdb connection URI, before it becomes a pgconn.Config.
type URI struct {
	Host     string
	Port     uint16
	User     string
	Password string
	Database string
	// SSLMode is one of the SSLMode constants.
	SSLMode string
	// SSLInline says that RootCert, Cert and Key hold PEM text rather than
	// file paths (the lib/pq convention CockroachDB's encode-uri emits).
	SSLInline           bool
	RootCert, Cert, Key string
	ConnectTimeout      time.Duration
	// Route is crdb_route (fact sheet §2.6): "gateway" sends all stream
	// traffic through the URI's address; "" and "node" are the default. It
	// is for the replication client and never sent to the server.
	Route string
	// RuntimeParams are the startup parameters sent to the server (options,
	// application_name, and any session variable).
	RuntimeParams map[string]string
}

// ParseURI parses a postgres:// or postgresql:// connection URI into a
// pgconn.Config ready for pgconn.ConnectConfig. It is the one parser behind
// `vcdb sql`, `vcdb workload` and the replication client.
//
// Beyond what pgx's own parser does, it accepts `sslinline=true` with PEM
// text in sslrootcert/sslcert/sslkey (pgx would take the PEM for a file
// name) and builds the tls.Config itself, with libpq's sslmode semantics:
// disable (plaintext), require (TLS, no verification, unless sslrootcert is
// given, which makes it verify-ca as in libpq), verify-ca (chain checked
// against sslrootcert), verify-full (chain and host name). `options` may be
// written `-ccluster%3Dsystem` (as psql needs) or `-ccluster=system`.
//
// vcdb differs from libpq where it makes a URI mean one thing only:
//   - a missing sslmode means verify-full, not prefer (secure by default);
//     prefer and allow, which fall back to plaintext silently, are refused;
//   - verify-ca and verify-full need sslrootcert (a file, inline PEM, or
//     "system" for the system roots): no ~/.postgresql defaults;
//   - PG* environment variables, ~/.pgpass and service files are ignored:
//     the URI is the whole configuration;
//   - a parameter given twice, several hosts, a fragment, or a libpq client
//     parameter vcdb does not implement is an error.
//
// Error messages never quote the URI, which may hold a password or a key.
func ParseURI(uri string) (*pgconn.Config, error) {
	u, err := ParseURIFields(uri)
	if err != nil {
		return nil, err
	}
	return u.PGConnConfig()
}

// ParseURIFields parses a connection URI without building its TLS
// configuration (see ParseURI for the rules).
func ParseURIFields(uri string) (*URI, error) {
	if strings.IndexByte(uri, 0) >= 0 {
		return nil, uriErrorf("contains a NUL byte")
	}
	lower := strings.ToLower(uri)
	if !strings.HasPrefix(lower, "postgresql://") && !strings.HasPrefix(lower, "postgres://") {
		return nil, uriErrorf("must start with postgresql:// (or postgres://)")
	}
	parsed, err := url.Parse(uri)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, uriErrorf("%s", redactURLError(err))
	}
	if parsed.Fragment != "" || strings.Contains(uri, "#") {
		return nil, uriErrorf("unexpected '#' (write it as %%23 inside a password or parameter)")
	}
	if strings.Contains(parsed.Host, ",") {
		return nil, uriErrorf("several hosts are not supported")
	}
	query, err := url.ParseQuery(parsed.RawQuery)
	if err != nil {
		return nil, uriErrorf("invalid query: %s", redactURLError(err))
	}
	param := func(k string) (string, bool) {
		v, ok := query[k]
		if !ok {
			return "", false
		}
		return v[0], true
	}
	for k, vs := range query {
		if len(vs) > 1 {
			return nil, uriErrorf("parameter %q given more than once", k)
		}
		if unsupportedParams[k] {
			return nil, uriErrorf("parameter %q is not supported by vcdb", k)
		}
		if k == "" {
			return nil, uriErrorf("empty parameter name")
		}
	}

	out := &URI{Host: parsed.Hostname(), RuntimeParams: map[string]string{}}
	if h, ok := param("host"); ok {
		out.Host = h
	}
	if out.Host == "" {
		out.Host = DefaultHost
	}
	portStr := parsed.Port()
	if p, ok := param("port"); ok {
		portStr = p
	}
	out.Port = DefaultPort
	if portStr != "" {
		p, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil || p == 0 {
			return nil, uriErrorf("invalid port (want 1-65535)")
		}
		out.Port = uint16(p)
	}
	if parsed.User != nil {
		out.User = parsed.User.Username()
		out.Password, _ = parsed.User.Password()
	}
	if v, ok := param("user"); ok {
		out.User = v
	}
	if out.User == "" {
		out.User = DefaultUser
	}
	if v, ok := param("password"); ok {
		out.Password = v
	}
	out.Database = strings.TrimPrefix(parsed.Path, "/")
	if strings.Contains(out.Database, "/") && !strings.HasPrefix(out.Database, "cluster:") {
		return nil, uriErrorf("the path must be a single database name")
	}
	for _, k := range []string{"dbname", "database"} {
		if v, ok := param(k); ok {
			out.Database = v
		}
	}

	out.SSLMode = SSLModeVerifyFull
	if v, ok := param("sslmode"); ok {
		switch v {
		case SSLModeDisable, SSLModeRequire, SSLModeVerifyCA, SSLModeVerifyFull:
			out.SSLMode = v
		case "allow", "prefer":
			return nil, uriErrorf("sslmode=%s may fall back to plaintext silently and is not supported: use disable, require, verify-ca or verify-full", v)
		default:
			return nil, uriErrorf("unknown sslmode %q (want disable, require, verify-ca or verify-full)", v)
		}
	}
	if v, ok := param("sslinline"); ok {
		switch v {
		case "true":
			out.SSLInline = true
		case "false":
		default:
			return nil, uriErrorf("sslinline must be true or false")
		}
	}
	out.RootCert, _ = param("sslrootcert")
	out.Cert, _ = param("sslcert")
	out.Key, _ = param("sslkey")
	if v, ok := param("crdb_route"); ok {
		if v != "node" && v != "gateway" {
			return nil, uriErrorf("crdb_route must be node or gateway")
		}
		out.Route = v
	}
	if v, ok := param("connect_timeout"); ok {
		secs, err := strconv.ParseUint(v, 10, 31)
		if err != nil {
			return nil, uriErrorf("invalid connect_timeout (want whole seconds)")
		}
		out.ConnectTimeout = time.Duration(secs) * time.Second
	}
	for k, vs := range query {
		if !clientOnlyParams[k] {
			out.RuntimeParams[k] = vs[0]
		}
	}
	if _, ok := out.RuntimeParams["application_name"]; !ok {
		if v, ok := param("fallback_application_name"); ok {
			out.RuntimeParams["application_name"] = v
		}
	}
	return out, nil
}

// PGConnConfig builds the pgconn configuration, reading certificate files
// (unless inline) and checking client key permissions.
func (u *URI) PGConnConfig() (*pgconn.Config, error) {
	tlsConfig, err := u.TLSConfig()
	if err != nil {
		return nil, err
	}
	// pgconn insists on configs made by its ParseConfig. Every setting it
	// might take from the environment is given explicitly here, and every
	// field that matters is then overwritten from the parsed URI, so that PG*
	// variables and ~/.pgpass cannot change where or how vcdb connects.
	cfg, err := pgconn.ParseConfig("host=localhost port=26257 user=root password=x sslmode=disable " +
		"connect_timeout=0 target_session_attrs=any sslnegotiation=postgres sslcertmode=allow " +
		"min_protocol_version=3.0 max_protocol_version=3.0 channel_binding=prefer " +
		"sslrootcert='' sslcert='' sslkey='' sslpassword='' require_auth='' options='' application_name=''")
	if err != nil {
		return nil, errors.Wrap(err, "building the connection configuration")
	}
	cfg.Host = u.Host
	cfg.Port = u.Port
	cfg.User = u.User
	cfg.Password = u.Password
	cfg.Database = u.Database
	cfg.TLSConfig = tlsConfig
	cfg.Fallbacks = nil
	cfg.KerberosSrvName, cfg.KerberosSpn = "", ""
	cfg.RequireAuth = ""
	cfg.ValidateConnect = nil
	cfg.ConnectTimeout = u.ConnectTimeout
	dialer := &net.Dialer{KeepAlive: 5 * time.Minute, Timeout: u.ConnectTimeout}
	cfg.DialFunc = dialer.DialContext
	cfg.RuntimeParams = make(map[string]string, len(u.RuntimeParams))
	for k, v := range u.RuntimeParams {
		cfg.RuntimeParams[k] = v
	}
	return cfg, nil
}

func uriErrorf(format string, args ...any) error {
	return errors.Newf("invalid connection URI: "+format, args...)
}

// redactURLError drops what net/url quotes from its input: the quoted text
// may be part of a password.
func redactURLError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ` "`); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSuffix(msg, ":")
}

// ParsePGXConfig is ParseURI for users of pgx's Conn API (the workload and
// the replication client): the returned configuration carries exactly the
// pgconn settings ParseURI builds, and pgx's own defaults otherwise.
func ParsePGXConfig(uri string) (*pgx.ConnConfig, error) {
	pc, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	// pgx, like pgconn, insists on configs made by its ParseConfig; the
	// pgconn part is then replaced whole.
	cfg, err := pgx.ParseConfig("host=localhost port=26257 user=root password=x sslmode=disable")
	if err != nil {
		return nil, errors.Wrap(err, "building the connection configuration")
	}
	cfg.Config = *pc
	return cfg, nil
}

// hostInAuthorityRE matches host names that can stand in a URI's authority
// as they are; anything else (a Unix socket directory, say) goes into the
// host parameter.
var hostInAuthorityRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.\-_]*$`)

// String formats the URI canonically; ParseURIFields(u.String()) gives u
// back. It includes the password and certificate material: see Redacted.
func (u *URI) String() string {
	q := url.Values{}
	for k, v := range u.RuntimeParams {
		q.Set(k, v)
	}
	out := url.URL{Scheme: "postgresql"}
	port := strconv.Itoa(int(u.Port))
	switch {
	case net.ParseIP(u.Host) != nil:
		out.Host = net.JoinHostPort(u.Host, port)
	case hostInAuthorityRE.MatchString(u.Host):
		out.Host = u.Host + ":" + port
	default:
		q.Set("host", u.Host)
		q.Set("port", port)
	}
	if u.Password != "" {
		out.User = url.UserPassword(u.User, u.Password)
	} else {
		out.User = url.User(u.User)
	}
	if u.Database != "" {
		if strings.Contains(u.Database, "/") {
			q.Set("dbname", u.Database)
		} else {
			out.Path = "/" + u.Database
		}
	}
	q.Set("sslmode", u.SSLMode)
	if u.SSLInline {
		q.Set("sslinline", "true")
	}
	for k, v := range map[string]string{"sslrootcert": u.RootCert, "sslcert": u.Cert, "sslkey": u.Key} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if u.ConnectTimeout != 0 {
		q.Set("connect_timeout", strconv.Itoa(int(u.ConnectTimeout/time.Second)))
	}
	if u.Route != "" {
		q.Set("crdb_route", u.Route)
	}
	out.RawQuery = q.Encode()
	return out.String()
}

// Redacted is String with the password and inline certificate material
// replaced, for display (the shell's welcome message, logs, SHOW output).
func (u *URI) Redacted() string {
	r := *u
	if r.Password != "" {
		r.Password = "redacted"
	}
	if r.SSLInline {
		for _, p := range []*string{&r.RootCert, &r.Cert, &r.Key} {
			if *p != "" {
				*p = "redacted"
			}
		}
	}
	return r.String()
}
