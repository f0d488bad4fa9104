package sql

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
)

// sessionData is the state SET changes. It is owned by its Session.
type sessionData struct {
	user             string
	database         string
	applicationName  string
	searchPath       []string
	timeZone         string
	location         *time.Location
	statementTimeout time.Duration
	defaultReadOnly  bool
	extraFloatDigits int32
	dateStyle        pgdate.DateStyle
	intervalStyle    duration.IntervalStyle
	safeUpdates      bool
	// other holds variables that are accepted for client compatibility and
	// shown by SHOW but change nothing in the engine.
	other map[string]string
}

func defaultSessionData() sessionData {
	return sessionData{
		searchPath:    []string{"$user", "public"},
		timeZone:      "UTC",
		location:      time.UTC,
		dateStyle:     pgdate.DefaultDateStyle(),
		intervalStyle: duration.IntervalStyle_POSTGRES,
		// PostgreSQL 12+'s default: floats print in their shortest exact
		// form.
		extraFloatDigits: 1,
		other:            map[string]string{},
	}
}

// sessionVar is one variable of SET/SHOW/RESET. Names are case-insensitive;
// name is the lower-case key, display the spelling SHOW ALL and
// ParameterStatus use.
type sessionVar struct {
	display string
	get     func(s *Session) string
	// set is nil for read-only variables.
	set func(ctx context.Context, s *Session, v string) error
	// def is the value RESET restores (the startup value for some).
	def func(s *Session) string
	// status reports the variable as a ParameterStatus when it changes.
	status bool
}

// passThrough is a variable kept as text: accepted from clients, shown by
// SHOW, with no effect on execution. check validates values (nil: any).
func passThrough(display, def string, check func(string) (string, error)) *sessionVar {
	key := strings.ToLower(display)
	return &sessionVar{
		display: display,
		get: func(s *Session) string {
			if v, ok := s.data.other[key]; ok {
				return v
			}
			return def
		},
		set: func(_ context.Context, s *Session, v string) error {
			if check != nil {
				var err error
				if v, err = check(v); err != nil {
					return err
				}
			}
			s.data.other[key] = v
			return nil
		},
		def: func(*Session) string { return def },
	}
}

func oneOf(name string, allowed ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				return a, nil
			}
		}
		return "", pgerror.Newf(pgcode.InvalidParameterValue,
			"invalid value for parameter %q: %q", name, v)
	}
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1", "t":
		return true, nil
	case "off", "false", "no", "0", "f":
		return false, nil
	}
	return false, pgerror.Newf(pgcode.InvalidParameterValue,
		"parameter %q requires a Boolean value", name)
}

func formatBool(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// parseTimeout accepts PostgreSQL's forms: a number of milliseconds or an
// interval string ('5s', '1min').
func parseTimeout(name, v string) (time.Duration, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		if ms < 0 {
			return 0, pgerror.Newf(pgcode.InvalidParameterValue, "invalid value for parameter %q: %q", name, v)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	di, err := tree.ParseDInterval(duration.IntervalStyle_POSTGRES, v)
	if err != nil {
		return 0, pgerror.Newf(pgcode.InvalidParameterValue, "invalid value for parameter %q: %q", name, v)
	}
	d := di.Duration
	nanos := d.Nanos() + (d.Days*24*int64(time.Hour) + d.Months*30*24*int64(time.Hour))
	if nanos < 0 {
		return 0, pgerror.Newf(pgcode.InvalidParameterValue, "invalid value for parameter %q: %q", name, v)
	}
	return time.Duration(nanos), nil
}

var sessionVars = map[string]*sessionVar{}

func registerVars(vs ...*sessionVar) {
	for _, v := range vs {
		sessionVars[strings.ToLower(v.display)] = v
	}
}

func init() {
	registerVars(
		&sessionVar{
			display: "application_name", status: true,
			get: func(s *Session) string { return s.data.applicationName },
			set: func(_ context.Context, s *Session, v string) error {
				s.data.applicationName = v
				return nil
			},
			def: func(s *Session) string { return s.startup.ApplicationName },
		},
		&sessionVar{
			display: "database",
			get:     func(s *Session) string { return s.data.database },
			set: func(ctx context.Context, s *Session, v string) error {
				return s.setDatabase(ctx, v)
			},
			def: func(s *Session) string { return s.startupDatabase },
		},
		&sessionVar{
			display: "search_path",
			get:     func(s *Session) string { return strings.Join(s.data.searchPath, ", ") },
			set: func(_ context.Context, s *Session, v string) error {
				var path []string
				for _, p := range strings.Split(v, ",") {
					p = strings.TrimSpace(p)
					p = strings.Trim(p, `"`)
					if p != "" {
						path = append(path, p)
					}
				}
				s.data.searchPath = path
				return nil
			},
			def: func(*Session) string { return "$user, public" },
		},
		&sessionVar{
			display: "TimeZone", status: true,
			get: func(s *Session) string { return s.data.timeZone },
			set: func(_ context.Context, s *Session, v string) error {
				loc, err := timeutil.TimeZoneStringToLocation(v, timeutil.TimeZoneStringToLocationPOSIXStandard)
				if err != nil {
					return pgerror.Newf(pgcode.InvalidParameterValue, "invalid value for parameter \"timezone\": %q", v)
				}
				s.data.timeZone = v
				if strings.EqualFold(v, "utc") {
					s.data.timeZone = "UTC"
				}
				s.data.location = loc
				return nil
			},
			def: func(*Session) string { return "UTC" },
		},
		&sessionVar{
			display: "statement_timeout",
			get: func(s *Session) string {
				return strconv.FormatInt(s.data.statementTimeout.Milliseconds(), 10)
			},
			set: func(_ context.Context, s *Session, v string) error {
				d, err := parseTimeout("statement_timeout", v)
				s.data.statementTimeout = d
				return err
			},
			def: func(*Session) string { return "0" },
		},
		&sessionVar{
			display: "default_transaction_read_only",
			get:     func(s *Session) string { return formatBool(s.data.defaultReadOnly) },
			set: func(_ context.Context, s *Session, v string) error {
				b, err := parseBool("default_transaction_read_only", v)
				s.data.defaultReadOnly = b
				return err
			},
			def: func(*Session) string { return "off" },
		},
		&sessionVar{
			display: "transaction_read_only",
			get:     func(s *Session) string { return formatBool(s.txnReadOnly()) },
			set: func(_ context.Context, s *Session, v string) error {
				b, err := parseBool("transaction_read_only", v)
				if err != nil {
					return err
				}
				return s.setTxnReadOnly(b)
			},
			def: func(s *Session) string { return formatBool(s.data.defaultReadOnly) },
		},
		&sessionVar{
			display: "extra_float_digits",
			get:     func(s *Session) string { return strconv.Itoa(int(s.data.extraFloatDigits)) },
			set: func(_ context.Context, s *Session, v string) error {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil || n < -15 || n > 3 {
					return pgerror.Newf(pgcode.InvalidParameterValue,
						"%d is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)", n)
				}
				s.data.extraFloatDigits = int32(n)
				return nil
			},
			def: func(*Session) string { return "1" },
		},
		&sessionVar{
			display: "DateStyle", status: true,
			get: func(s *Session) string { return s.data.dateStyle.SQLString() },
			set: func(_ context.Context, s *Session, v string) error {
				ds, err := pgdate.ParseDateStyle(v, s.data.dateStyle)
				if err != nil {
					return err
				}
				if ds.Style != pgdate.Style_ISO {
					return pgerror.Newf(pgcode.FeatureNotSupported,
						"only ISO style is supported (setting DateStyle to %q)", v)
				}
				s.data.dateStyle = ds
				return nil
			},
			def: func(*Session) string { return "ISO, MDY" },
		},
		&sessionVar{
			display: "IntervalStyle", status: true,
			get: func(s *Session) string {
				return strings.ToLower(s.data.intervalStyle.String())
			},
			set: func(_ context.Context, s *Session, v string) error {
				st, ok := duration.IntervalStyle_value[strings.ToUpper(v)]
				if !ok {
					return pgerror.Newf(pgcode.InvalidParameterValue,
						"invalid value for parameter \"IntervalStyle\": %q", v)
				}
				s.data.intervalStyle = duration.IntervalStyle(st)
				return nil
			},
			def: func(*Session) string { return "postgres" },
		},
		&sessionVar{
			display: "sql_safe_updates",
			get:     func(s *Session) string { return formatBool(s.data.safeUpdates) },
			set: func(_ context.Context, s *Session, v string) error {
				b, err := parseBool("sql_safe_updates", v)
				s.data.safeUpdates = b
				return err
			},
			def: func(*Session) string { return "off" },
		},
		&sessionVar{
			display: "client_encoding", status: true,
			get: func(*Session) string { return "UTF8" },
			set: func(_ context.Context, _ *Session, v string) error {
				switch strings.ToUpper(strings.ReplaceAll(v, "-", "")) {
				case "UTF8", "UNICODE", "CP65001":
					return nil
				}
				return pgerror.Newf(pgcode.InvalidParameterValue, "unimplemented client encoding: %q", v)
			},
			def: func(*Session) string { return "UTF8" },
		},
		&sessionVar{
			display: "standard_conforming_strings", status: true,
			get: func(*Session) string { return "on" },
			set: func(_ context.Context, _ *Session, v string) error {
				b, err := parseBool("standard_conforming_strings", v)
				if err == nil && !b {
					return pgerror.Newf(pgcode.FeatureNotSupported,
						"standard_conforming_strings cannot be set to off")
				}
				return err
			},
			def: func(*Session) string { return "on" },
		},
		&sessionVar{
			display: "default_transaction_isolation",
			get:     func(*Session) string { return "serializable" },
			set:     setIsolation,
			def:     func(*Session) string { return "serializable" },
		},
		&sessionVar{
			display: "transaction_isolation",
			get:     func(*Session) string { return "serializable" },
			set:     setIsolation,
			def:     func(*Session) string { return "serializable" },
		},
		readOnlyVar("server_version", func(*Session) string { return serverVersion }, true),
		readOnlyVar("server_version_num", func(*Session) string { return serverVersionNum }, false),
		readOnlyVar("server_encoding", func(*Session) string { return "UTF8" }, true),
		readOnlyVar("integer_datetimes", func(*Session) string { return "on" }, true),
		readOnlyVar("is_superuser", func(s *Session) string { return formatBool(s.isAdmin) }, true),
		readOnlyVar("session_authorization", func(s *Session) string { return s.data.user }, true),
		readOnlyVar("session_user", func(s *Session) string { return s.data.user }, false),
		readOnlyVar("virtual_cluster_name", func(s *Session) string { return s.srv.cfg.TenantName }, false),
		readOnlyVar("crdb_version", func(*Session) string { return versionString() }, false),
		readOnlyVar("max_identifier_length", func(*Session) string { return "128" }, false),
		readOnlyVar("block_size", func(*Session) string { return "8192" }, false),
		readOnlyVar("transaction_status", func(s *Session) string { return s.txnStatusName() }, false),
		passThrough("bytea_output", "hex", oneOf("bytea_output", "hex", "escape")),
		passThrough("serial_normalization", "rowid", oneOf("serial_normalization", "rowid")),
		passThrough("default_int_size", "8", oneOf("default_int_size", "8")),
		passThrough("lock_timeout", "0", func(v string) (string, error) {
			d, err := parseTimeout("lock_timeout", v)
			return strconv.FormatInt(d.Milliseconds(), 10), err
		}),
		passThrough("idle_in_transaction_session_timeout", "0", func(v string) (string, error) {
			d, err := parseTimeout("idle_in_transaction_session_timeout", v)
			return strconv.FormatInt(d.Milliseconds(), 10), err
		}),
		passThrough("idle_session_timeout", "0", func(v string) (string, error) {
			d, err := parseTimeout("idle_session_timeout", v)
			return strconv.FormatInt(d.Milliseconds(), 10), err
		}),
		passThrough("client_min_messages", "notice", oneOf("client_min_messages",
			"debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error")),
		passThrough("row_security", "off", nil),
		passThrough("synchronous_commit", "on", nil),
		passThrough("enable_seqscan", "on", nil),
		passThrough("escape_string_warning", "on", nil),
		passThrough("lc_messages", "C.UTF-8", nil),
		passThrough("lc_monetary", "C.UTF-8", nil),
		passThrough("lc_numeric", "C.UTF-8", nil),
		passThrough("lc_time", "C.UTF-8", nil),
		passThrough("geqo", "on", nil),
		passThrough("jit", "off", nil),
		passThrough("vectorize", "on", nil),
		passThrough("distsql", "off", nil),
		passThrough("tracing", "off", nil),
	)
}

func readOnlyVar(display string, get func(*Session) string, status bool) *sessionVar {
	return &sessionVar{display: display, get: get, def: get, status: status}
}

func setIsolation(_ context.Context, s *Session, v string) error {
	switch strings.ToLower(v) {
	case "serializable", "default":
		return nil
	case "read committed", "read uncommitted", "repeatable read", "snapshot":
		// CockroachDB without read-committed enabled runs every
		// transaction at SERIALIZABLE and says so.
		s.addNotice(pgerror.WithSeverity(pgerror.Newf(pgcode.Warning,
			"%s isolation level is not supported; upgrading to SERIALIZABLE", strings.ToUpper(v)), "NOTICE"))
		return nil
	}
	return pgerror.Newf(pgcode.InvalidParameterValue, "invalid value for parameter \"transaction_isolation\": %q", v)
}

// lookupVar finds a variable by case-insensitive name.
func lookupVar(name string) (*sessionVar, error) {
	v, ok := sessionVars[strings.ToLower(name)]
	if !ok {
		return nil, pgerror.Newf(pgcode.UndefinedObject, "unrecognized configuration parameter %q", name)
	}
	return v, nil
}

// setVar applies SET name = value and records a ParameterStatus change.
func (s *Session) setVar(ctx context.Context, name, value string) error {
	v, err := lookupVar(name)
	if err != nil {
		return err
	}
	if v.set == nil {
		return pgerror.Newf(pgcode.CantChangeRuntimeParam, "parameter %q cannot be changed", name)
	}
	before := v.get(s)
	if err := v.set(ctx, s, value); err != nil {
		return err
	}
	if after := v.get(s); v.status && after != before {
		s.statusChanges = append(s.statusChanges, StatusParam{Name: v.display, Value: after})
	}
	return nil
}

// resetVar applies RESET name.
func (s *Session) resetVar(ctx context.Context, name string) error {
	v, err := lookupVar(name)
	if err != nil {
		return err
	}
	if v.set == nil {
		return pgerror.Newf(pgcode.CantChangeRuntimeParam, "parameter %q cannot be changed", name)
	}
	return s.setVar(ctx, name, v.def(s))
}

// getVar returns SHOW name's value.
func (s *Session) getVar(name string) (string, error) {
	v, err := lookupVar(name)
	if err != nil {
		return "", err
	}
	return v.get(s), nil
}

// allVars returns (name, value) for SHOW ALL, ordered by name.
func (s *Session) allVars() [][2]string {
	out := make([][2]string, 0, len(sessionVars))
	for _, v := range sessionVars {
		out = append(out, [2]string{strings.ToLower(v.display), v.get(s)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// statusParams lists every ParameterStatus variable with its value.
func (s *Session) statusParams() []StatusParam {
	var out []StatusParam
	for _, v := range sessionVars {
		if v.status {
			out = append(out, StatusParam{Name: v.display, Value: v.get(s)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// settingForFunc backs current_setting().
func (s *Session) settingForFunc(name string) (string, bool) {
	v, err := s.getVar(name)
	return v, err == nil
}

// Version strings. PostgreSQL clients look at server_version to pick
// features; like CockroachDB we report PostgreSQL 13 compatibility.
const (
	serverVersion    = "13.0.0"
	serverVersionNum = "130000"
)
