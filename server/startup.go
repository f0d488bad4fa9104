package server

import (
	"net/url"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
)

// startupParams are a StartupMessage's parameters, interpreted.
type startupParams struct {
	User            string
	Database        string
	ApplicationName string
	// Cluster is the virtual cluster the client asked for: from the
	// options (-ccluster=NAME, --cluster=NAME, -c cluster=NAME) or else the
	// database name's "cluster:NAME[/DB]" prefix; "" means the default
	// target cluster.
	Cluster string
	// SessionDefaults are the other -c name=value options and the
	// startup parameters that name session variables (DateStyle,
	// TimeZone, extra_float_digits, client_encoding, ...).
	SessionDefaults map[string]string
	// UnknownProtocolOptions are "_pq_." parameters, which protocol 3.0
	// servers must list in NegotiateProtocolVersion instead of failing.
	UnknownProtocolOptions []string
}

// clusterOption is the option name that selects a virtual cluster.
const clusterOption = "cluster"

// clusterDBPrefix is the database-name form of routing
// ("cluster:NAME" or "cluster:NAME/DB").
const clusterDBPrefix = "cluster:"

// parseStartupParams interprets the parameters of a StartupMessage.
// Errors carry SQLSTATE 08P01 or 28000 and are sent as FATAL.
func parseStartupParams(params map[string]string) (startupParams, error) {
	sp := startupParams{SessionDefaults: map[string]string{}}
	clusterFromOptions := false
	for name, value := range params {
		switch {
		case name == "user":
			sp.User = value
		case name == "database":
			sp.Database = value
		case name == "application_name":
			sp.ApplicationName = value
		case name == "options":
			cluster, vars, err := parseOptions(value)
			if err != nil {
				return sp, err
			}
			if cluster != "" {
				sp.Cluster = cluster
				clusterFromOptions = true
			}
			for k, v := range vars {
				sp.SessionDefaults[k] = v
			}
		case name == "replication":
			// Logical and physical replication connections are a
			// different protocol; vcdb streams through ordinary SQL
			// statements instead (DESIGN.md).
			if value != "" && !strings.EqualFold(value, "false") && !strings.EqualFold(value, "off") && value != "0" {
				return sp, pgerror.Newf(pgcode.FeatureNotSupported,
					"replication connections are not supported")
			}
		case strings.HasPrefix(name, "_pq_."):
			sp.UnknownProtocolOptions = append(sp.UnknownProtocolOptions, name)
		case strings.HasPrefix(name, "crdb:"):
			// CockroachDB-internal parameters (session revival tokens,
			// remote node addresses) mean nothing to vcdb.
		default:
			sp.SessionDefaults[name] = value
		}
	}
	if sp.User == "" {
		return sp, pgerror.Newf(pgcode.InvalidAuthorizationSpecification,
			"no user name specified in startup packet")
	}
	// User names are SQL identifiers: case-insensitive, stored in lower
	// case (CockroachDB's username normalization).
	sp.User = strings.ToLower(sp.User)
	if strings.HasPrefix(sp.Database, clusterDBPrefix) {
		rest := sp.Database[len(clusterDBPrefix):]
		name, db, _ := strings.Cut(rest, "/")
		if !clusterFromOptions {
			// The options win when both are given and the database name
			// is then used as is (CRDB-PCR-FACTS §2.7).
			sp.Cluster = name
			sp.Database = db
		}
		if sp.Cluster == "" {
			return sp, pgerror.Newf(pgcode.InvalidParameterValue,
				"invalid database name %q: the cluster name after %q is empty", sp.Database, clusterDBPrefix)
		}
	}
	return sp, nil
}

// parseOptions interprets the `options` startup parameter like
// PostgreSQL's postmaster command line: words separated by white space,
// with a backslash escaping the next character; `-c name=value`,
// `-cname=value` and `--name=value` set session variables. The variable
// "cluster" selects the virtual cluster instead. Some clients send the
// words URL-escaped (`-ccluster%3Dsystem`, as written in a libpq URL), so
// a word with a valid %-escape is unescaped first.
func parseOptions(opts string) (cluster string, vars map[string]string, err error) {
	vars = map[string]string{}
	words := splitOptions(opts)
	for i := 0; i < len(words); i++ {
		w := unescapeOption(words[i])
		var setting string
		switch {
		case w == "-c":
			if i+1 == len(words) {
				return "", nil, pgerror.Newf(pgcode.ProtocolViolation,
					"option -c in the options parameter needs an argument name=value")
			}
			i++
			setting = unescapeOption(words[i])
		case strings.HasPrefix(w, "--"):
			// PostgreSQL spells long options with dashes for underscores.
			name, value, ok := strings.Cut(w[2:], "=")
			if !ok {
				return "", nil, pgerror.Newf(pgcode.ProtocolViolation,
					"option %q in the options parameter needs a value (--name=value)", w)
			}
			setting = strings.ReplaceAll(name, "-", "_") + "=" + value
		case strings.HasPrefix(w, "-c"):
			setting = w[2:]
		default:
			return "", nil, errors.WithHint(pgerror.Newf(pgcode.ProtocolViolation,
				"option %q in the options parameter is invalid: it must start with -c or --", w),
				"Use -c name=value, -cname=value or --name=value.")
		}
		name, value, ok := strings.Cut(setting, "=")
		if !ok || name == "" {
			return "", nil, pgerror.Newf(pgcode.ProtocolViolation,
				"option %q in the options parameter is invalid: expected name=value", setting)
		}
		if strings.EqualFold(name, clusterOption) {
			if value == "" {
				return "", nil, pgerror.Newf(pgcode.InvalidParameterValue,
					"the cluster option needs a virtual cluster name")
			}
			cluster = value
			continue
		}
		vars[name] = value
	}
	return cluster, vars, nil
}

// splitOptions splits on ASCII white space; a backslash makes the next
// character literal (PostgreSQL's pg_split_opts).
func splitOptions(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func unescapeOption(w string) string {
	if !strings.Contains(w, "%") {
		return w
	}
	// PathUnescape, unlike QueryUnescape, leaves '+' alone: a literal plus
	// sign in a value (a time zone like UTC+3) must survive.
	if u, err := url.PathUnescape(w); err == nil {
		return u
	}
	return w
}
