package sql

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/tenant"
)

// Cluster settings
//
// A VC's cluster settings live in its own catalog span (catalog.PutSetting),
// so a replicated VC carries them, its cluster version included. The system
// VC may override a setting for one application VC or for all of them
// (ALTER VIRTUAL CLUSTER {x|ALL} SET CLUSTER SETTING); the value a VC sees
// is, in order: its own override, the ALL override, its own stored value,
// the default. Settings that concern the physical cluster (routing,
// rangefeeds) are system-only: only the system VC may set them.
//
// Only the settings below exist; setting another gives 42704, as in
// CockroachDB. Values are stored in canonical text (booleans true/false,
// durations in Go's form).

// Names of the settings the engine itself reads.
const (
	settingDefaultTargetCluster = "server.controller.default_target_cluster"
	settingRangefeedEnabled     = "kv.rangefeed.enabled"
	// settingErrorTipSystemInterface adds a hint to the errors of
	// statements that need the system VC.
	settingErrorTipSystemInterface = "sql.error_tip_system_interface.enabled"
)

type settingKind int

const (
	settingString settingKind = iota
	settingBool
	settingDuration
	settingInt
)

func (k settingKind) typeName() string {
	return [...]string{"s", "b", "d", "i"}[k]
}

func (k settingKind) colType() *types.T {
	return [...]*types.T{types.String, types.Bool, types.Interval, types.Int}[k]
}

// clusterSetting describes one setting.
type clusterSetting struct {
	name        string
	kind        settingKind
	def         string
	systemOnly  bool
	description string
}

var clusterSettings = map[string]*clusterSetting{}

func registerSettings(ss ...*clusterSetting) {
	for _, s := range ss {
		clusterSettings[s.name] = s
	}
}

func init() {
	registerSettings(
		// The version setting's default is never read: every VC stores its
		// own (catalog.Bootstrap, version.go).
		&clusterSetting{name: catalog.VersionSetting, kind: settingString, def: "",
			description: "set the active cluster version in the format '<major>.<minor>'"},
		&clusterSetting{name: settingDefaultTargetCluster, kind: settingString, def: tenant.SystemName, systemOnly: true,
			description: "virtual cluster that connections naming none are routed to"},
		&clusterSetting{name: settingRangefeedEnabled, kind: settingBool, def: "false", systemOnly: true,
			description: "if set, rangefeed registration is enabled (needed to replicate the system virtual cluster)"},
		&clusterSetting{name: "kv.closed_timestamp.target_duration", kind: settingDuration, def: "3s", systemOnly: true,
			description: "accepted for compatibility; vcdb's rangefeeds checkpoint every few milliseconds"},
		&clusterSetting{name: "kv.closed_timestamp.side_transport_interval", kind: settingDuration, def: "200ms", systemOnly: true,
			description: "accepted for compatibility; vcdb's rangefeeds checkpoint every few milliseconds"},
		&clusterSetting{name: settingErrorTipSystemInterface, kind: settingBool, def: "false",
			description: "if set, errors of statements that need the system virtual cluster suggest connecting to it"},
		&clusterSetting{name: "cluster.organization", kind: settingString, def: "",
			description: "organization name"},
		&clusterSetting{name: "enterprise.license", kind: settingString, def: "",
			description: "accepted for compatibility; vcdb needs no license"},
		&clusterSetting{name: "sql.defaults.statement_timeout", kind: settingDuration, def: "0s",
			description: "accepted for compatibility (use SET statement_timeout)"},
	)
}

// lookupSetting finds a setting by case-insensitive name.
func lookupSetting(name string) (*clusterSetting, error) {
	s, ok := clusterSettings[strings.ToLower(name)]
	if !ok {
		return nil, pgerror.Newf(pgcode.UndefinedObject, "unknown cluster setting '%s'", name)
	}
	return s, nil
}

// canonical validates v for the setting and returns its stored text.
func (cs *clusterSetting) canonical(v string) (string, error) {
	bad := func() error {
		return pgerror.Newf(pgcode.InvalidParameterValue, "invalid value for cluster setting %s: %q", cs.name, v)
	}
	switch cs.kind {
	case settingBool:
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			return "", bad()
		}
		return strconv.FormatBool(b), nil
	case settingDuration:
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			return d.String(), nil
		}
		di, err := tree.ParseDInterval(duration.IntervalStyle_POSTGRES, v)
		if err != nil || di.Duration.Compare(duration.Duration{}) < 0 {
			return "", bad()
		}
		return time.Duration(di.Duration.Nanos() + di.Duration.Days*24*int64(time.Hour)).String(), nil
	case settingInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", bad()
		}
		return strconv.FormatInt(n, 10), nil
	}
	return v, nil
}

// datum returns the stored text v as a value of the setting's type.
func (cs *clusterSetting) datum(v string) tree.Datum {
	switch cs.kind {
	case settingBool:
		b, _ := strconv.ParseBool(v)
		return tree.MakeDBool(tree.DBool(b))
	case settingDuration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return tree.DNull
		}
		return &tree.DInterval{Duration: duration.MakeDuration(d.Nanoseconds(), 0, 0)}
	case settingInt:
		n, _ := strconv.ParseInt(v, 10, 64)
		return tree.NewDInt(tree.DInt(n))
	}
	return tree.NewDString(v)
}

// settingValueText evaluates the value of SET CLUSTER SETTING (a constant
// or a simple expression) to text; ok is false for DEFAULT.
func (s *Session) settingValueText(ctx context.Context, e tree.Expr, args tree.Datums) (string, bool, error) {
	if _, isDefault := e.(tree.DefaultVal); isDefault || e == nil {
		return "", false, nil
	}
	// The evaluator has no crdb_internal.node_executable_version(); the
	// CockroachDB idiom SET CLUSTER SETTING version =
	// crdb_internal.node_executable_version() is recognised here.
	if isNodeExecutableVersionCall(e) {
		return tenant.Binary().String(), true, nil
	}
	v, err := s.varValue(ctx, e, args)
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

// execSetClusterSetting runs SET CLUSTER SETTING in its own transaction
// (CockroachDB refuses it inside an explicit one too) and applies its
// effect on the Host once committed.
func (s *Session) execSetClusterSetting(ctx context.Context, t *tree.SetClusterSetting, args tree.Datums) (Result, error) {
	if s.txn.mode != txnIdle {
		return nil, pgerror.Newf(pgcode.ActiveSQLTransaction,
			"SET CLUSTER SETTING cannot be used inside a multi-statement transaction")
	}
	if err := s.refuseReadOnlyVersion(t.Name); err != nil {
		return nil, err
	}
	if err := s.checkWritable(t); err != nil {
		return nil, err
	}
	cs, err := lookupSetting(t.Name)
	if err != nil {
		return nil, err
	}
	if cs.systemOnly && !s.srv.isSystem() {
		return nil, pgerror.Newf(pgcode.InsufficientPrivilege,
			"only the system tenant can set cluster setting %s", cs.name)
	}
	value, set, err := s.settingValueText(ctx, t.Value, args)
	if err != nil {
		return nil, err
	}
	if set {
		if value, err = cs.canonical(value); err != nil {
			return nil, err
		}
	}
	stmtCtx, cancel := s.stmtContext(ctx)
	defer cancel()
	err = s.retryImplicit(stmtCtx, func(txn *kv.Txn, descs *catalog.Collection) error {
		snap, err := descs.Snapshot(stmtCtx)
		if err != nil {
			return err
		}
		if err := requireSystemPrivilege(s.principal(snap), privilege.MODIFYCLUSTERSETTING); err != nil {
			return err
		}
		switch cs.name {
		case catalog.VersionSetting:
			return s.setClusterVersion(stmtCtx, txn, value, set)
		case settingPreserveDowngrade:
			if set && value != "" {
				if err := s.checkPreserveDowngrade(stmtCtx, txn, value); err != nil {
					return err
				}
			}
		}
		if !set {
			return catalog.DeleteSetting(txn, s.srv.keys, cs.name)
		}
		return catalog.PutSetting(txn, s.srv.keys, cs.name, value)
	})
	if err != nil {
		return nil, err
	}
	if s.srv.isSystem() && s.srv.host != nil {
		if err := s.srv.host.settingChanged(ctx, cs.name); err != nil {
			return nil, err
		}
	}
	return &bufferedResult{tag: "SET CLUSTER SETTING"}, nil
}

// effectiveSetting returns the value of setting cs in this server's VC as
// of txn: override, ALL override, stored value, default.
func (s *Server) effectiveSetting(ctx context.Context, txn *kv.Txn, cs *clusterSetting) (string, error) {
	var h *Host
	if !s.isSystem() {
		h = s.host
	}
	return effectiveSetting(ctx, txn, h, s.recordID, s.keys, cs)
}

// effectiveSetting returns the value of cs in VC id (whose catalog keys
// are keys) as of txn; h is nil for the system VC, which has no
// overrides. The version is never overridden: it is the VC's own active
// version.
func effectiveSetting(ctx context.Context, txn *kv.Txn, h *Host, id tenant.ID, keys catalog.Keys, cs *clusterSetting) (string, error) {
	if h != nil && cs.name != catalog.VersionSetting {
		if v, ok, err := h.settingOverride(ctx, txn, id, cs.name); err != nil || ok {
			return v, err
		}
	}
	v, found, err := catalog.GetSetting(ctx, txn, keys, cs.name)
	if err != nil || found {
		return v, err
	}
	return cs.def, nil
}

// execShowTenantClusterSetting computes SHOW CLUSTER SETTING x FOR
// VIRTUAL CLUSTER y: the value y sees.
func (d *ddl) execShowTenantClusterSetting(ctx context.Context, t *tree.ShowTenantClusterSetting) ([]tree.Datums, error) {
	h, err := d.s.requireSystemHost(t)
	if err != nil {
		return nil, err
	}
	if err := requireSystemPrivilege(d.s.principal(d.snap), privilege.MANAGEVIRTUALCLUSTER); err != nil {
		return nil, err
	}
	cs, err := lookupSetting(t.Name)
	if err != nil {
		return nil, err
	}
	spec, _, err := d.s.evalVCSpec(ctx, t.TenantSpec, d.rp.ec.Placeholders)
	if err != nil {
		return nil, err
	}
	rec, err := h.resolve(ctx, d.rp.txn, spec)
	if err != nil {
		return nil, err
	}
	var over *Host
	if !rec.IsSystem() {
		over = h
	}
	dataID := rec.ID
	if rec.ReadFrom != 0 {
		dataID = rec.ReadFrom
	}
	v, err := effectiveSetting(ctx, d.rp.txn, over, rec.ID, catalog.Keys{Prefix: tenant.Prefix(dataID)}, cs)
	if err != nil {
		return nil, err
	}
	return []tree.Datums{{cs.datum(v)}}, nil
}

// showClusterSetting computes SHOW CLUSTER SETTING name.
func (d *ddl) showClusterSetting(ctx context.Context, name string) ([]tree.Datums, error) {
	cs, err := lookupSetting(name)
	if err != nil {
		return nil, err
	}
	if err := requireAnySystemPrivilege(d.s.principal(d.snap), privilege.VIEWCLUSTERSETTING, privilege.MODIFYCLUSTERSETTING); err != nil {
		return nil, err
	}
	v, err := d.s.srv.effectiveSetting(ctx, d.rp.txn, cs)
	if err != nil {
		return nil, err
	}
	return []tree.Datums{{cs.datum(v)}}, nil
}

// showClusterSettings computes SHOW [ALL|PUBLIC] CLUSTER SETTINGS.
func (d *ddl) showClusterSettings(ctx context.Context) ([]tree.Datums, error) {
	if err := requireAnySystemPrivilege(d.s.principal(d.snap), privilege.VIEWCLUSTERSETTING, privilege.MODIFYCLUSTERSETTING); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(clusterSettings))
	for n := range clusterSettings {
		names = append(names, n)
	}
	sort.Strings(names)
	var rows []tree.Datums
	for _, n := range names {
		cs := clusterSettings[n]
		v, err := d.s.srv.effectiveSetting(ctx, d.rp.txn, cs)
		if err != nil {
			return nil, err
		}
		rows = append(rows, tree.Datums{dstr(cs.name), dstr(v), dstr(cs.kind.typeName()), dstr(cs.description)})
	}
	return rows, nil
}

// settingColumns are the columns of SHOW CLUSTER SETTING name.
func settingColumns(name string) []resultColumn {
	typ := types.String
	if cs, err := lookupSetting(name); err == nil {
		typ = cs.kind.colType()
	}
	return []resultColumn{{name: strings.ToLower(name), typ: typ}}
}
