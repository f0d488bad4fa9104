package sql

import (
	"context"
	"strconv"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/tenant"
)

// The virtual cluster statements (CONTRACT §3, CRDB-PCR-FACTS §1.2–§1.5).
// They run in the system VC only (42501 elsewhere), need admin or
// MANAGEVIRTUALCLUSTER, and, except SHOW, run outside explicit
// transactions (25001): their effects on services and spans cannot be
// rolled back.

// isVCStatement reports whether stmt manages virtual clusters (SHOW
// VIRTUAL CLUSTER is a SHOW, see isShow).
func isVCStatement(stmt tree.Statement) bool {
	switch stmt.(type) {
	case *tree.CreateTenant, *tree.CreateTenantFromReplication, *tree.AlterTenantService,
		*tree.AlterTenantRename, *tree.AlterTenantCapability, *tree.AlterTenantSetClusterSetting,
		*tree.AlterTenantReplication, *tree.AlterTenantReset, *tree.DropTenant:
		return true
	}
	return false
}

// vcOperation is the verb of CockroachDB's "only the system tenant can
// <op>" error for a VC statement.
func vcOperation(stmt tree.Statement) string {
	switch stmt.(type) {
	case *tree.CreateTenant, *tree.CreateTenantFromReplication:
		return "create other tenants"
	case *tree.DropTenant:
		return "drop other tenants"
	case *tree.ShowTenant, *tree.ShowTenantClusterSetting:
		return "show other tenants"
	case *tree.ShowFingerprints:
		return "fingerprint other tenants"
	}
	return "alter tenant"
}

// requireSystemHost checks that the session may run stmt, a statement
// about other VCs: it must be in the system VC of a Host.
func (s *Session) requireSystemHost(stmt tree.Statement) (*Host, error) {
	if !s.srv.isSystem() {
		return nil, s.withSystemInterfaceTip(
			pgerror.Newf(pgcode.InsufficientPrivilege, "only the system tenant can %s", vcOperation(stmt)))
	}
	if s.srv.host == nil {
		return nil, pgerror.Newf(pgcode.FeatureNotSupported,
			"%s is not available: this server serves a single virtual cluster", stmt.StatementTag())
	}
	return s.srv.host, nil
}

// withSystemInterfaceTip adds CockroachDB's hint to an error of a
// statement that needs the system VC, when the VC's
// sql.error_tip_system_interface.enabled is on.
func (s *Session) withSystemInterfaceTip(err error) error {
	cs, lerr := lookupSetting(settingErrorTipSystemInterface)
	if lerr != nil {
		return err
	}
	txn := s.beginKV(true, kv.Timestamp{})
	defer txn.Rollback()
	if v, verr := s.srv.effectiveSetting(context.Background(), txn, cs); verr == nil && v == "true" {
		return errors.WithHint(err, "Connect to the system interface and manage virtual clusters from there.")
	}
	return err
}

// requireManageVC checks MANAGEVIRTUALCLUSTER (or admin) against the
// current catalog.
func (s *Session) requireManageVC(ctx context.Context) error {
	return s.withCatalog(ctx, func(snap *catalog.Snapshot) error {
		return requireSystemPrivilege(s.principal(snap), privilege.MANAGEVIRTUALCLUSTER)
	})
}

// execVCStatement runs a virtual cluster statement other than SHOW.
func (s *Session) execVCStatement(ctx context.Context, prep *Prepared, args tree.Datums) (Result, error) {
	stmt := prep.AST
	h, err := s.requireSystemHost(stmt)
	if err != nil {
		return nil, err
	}
	if err := s.requireManageVC(ctx); err != nil {
		return nil, err
	}
	if s.txn.mode != txnIdle {
		return nil, pgerror.Newf(pgcode.ActiveSQLTransaction,
			"%s cannot be used inside a multi-statement transaction", stmt.StatementTag())
	}
	if err := s.checkWritable(stmt); err != nil {
		return nil, err
	}
	stmtCtx, cancel := s.stmtContext(ctx)
	defer cancel()
	tag := stmt.StatementTag()
	switch t := stmt.(type) {
	case *tree.CreateTenant:
		spec, _, err := s.evalVCSpec(stmtCtx, t.TenantSpec, args)
		if err != nil {
			return nil, err
		}
		_, err = h.createVirtualCluster(stmtCtx, spec, t.IfNotExists)
		if err != nil {
			return nil, err
		}
	case *tree.AlterTenantService:
		spec, _, err := s.evalVCSpec(stmtCtx, t.TenantSpec, args)
		if err != nil {
			return nil, err
		}
		switch t.Command {
		case tree.TenantStartServiceShared:
			err = h.setServiceMode(stmtCtx, spec, tenant.ServiceModeShared)
		case tree.TenantStopService:
			err = h.setServiceMode(stmtCtx, spec, tenant.ServiceModeNone)
		default:
			err = pgerror.Newf(pgcode.FeatureNotSupported,
				"START SERVICE EXTERNAL is not supported: vcdb runs virtual clusters in-process (START SERVICE SHARED)")
		}
		if err != nil {
			return nil, err
		}
	case *tree.AlterTenantRename:
		spec, _, err := s.evalVCSpec(stmtCtx, t.TenantSpec, args)
		if err != nil {
			return nil, err
		}
		newName, err := s.evalVCName(stmtCtx, t.NewName, args)
		if err != nil {
			return nil, err
		}
		if err := h.renameVirtualCluster(stmtCtx, spec, newName); err != nil {
			return nil, err
		}
	case *tree.AlterTenantCapability:
		spec, _, err := s.evalVCSpec(stmtCtx, t.TenantSpec, args)
		if err != nil {
			return nil, err
		}
		var changes []capabilityChange
		for _, c := range t.Capabilities {
			ch := capabilityChange{name: strings.ToLower(c.Name)}
			if c.Value != nil {
				v, err := s.varValue(stmtCtx, c.Value, args)
				if err != nil {
					return nil, err
				}
				ch.value = strings.ToLower(v)
			}
			changes = append(changes, ch)
		}
		if err := h.setCapabilities(stmtCtx, spec, t.IsRevoke, t.AllCapabilities, changes); err != nil {
			return nil, err
		}
		// CockroachDB returns rows for this statement, none here.
		return &bufferedResult{tag: tag + " 0"}, nil
	case *tree.AlterTenantSetClusterSetting:
		spec, all, err := s.evalVCSpec(stmtCtx, t.TenantSpec, args)
		if err != nil {
			return nil, err
		}
		cs, err := lookupSetting(t.Name)
		if err != nil {
			return nil, err
		}
		if cs.systemOnly {
			return nil, pgerror.Newf(pgcode.InsufficientPrivilege,
				"cluster setting %s is only settable by the system tenant", cs.name)
		}
		if cs.name == catalog.VersionSetting || cs.name == settingPreserveDowngrade {
			// Both are checked against the VC's own version where they are
			// set (version.go); an override would bypass those rules.
			return nil, pgerror.Newf(pgcode.InvalidParameterValue,
				"cannot override cluster setting %s: a virtual cluster's version is finalized in the virtual cluster", cs.name)
		}
		value, set, err := s.settingValueText(stmtCtx, t.Value, args)
		if err != nil {
			return nil, err
		}
		if set {
			if value, err = cs.canonical(value); err != nil {
				return nil, err
			}
		}
		var target *vcSpec
		if !all {
			target = &spec
		}
		if err := h.setSettingOverride(stmtCtx, target, cs.name, value, set); err != nil {
			return nil, err
		}
		if !set {
			tag = "ALTER VIRTUAL CLUSTER RESET"
		}
	case *tree.DropTenant:
		if s.data.safeUpdates {
			return nil, pgerror.Newf(pgcode.Warning,
				"rejected (via sql_safe_updates): DROP VIRTUAL CLUSTER causes irreversible data loss")
		}
		spec, _, err := s.evalVCSpec(stmtCtx, t.TenantSpec, args)
		if err != nil {
			return nil, err
		}
		if err := h.dropVirtualCluster(stmtCtx, spec, t.IfExists, t.Immediate); err != nil {
			return nil, err
		}
	case *tree.CreateTenantFromReplication:
		return s.execCreateFromReplication(stmtCtx, h, prep, t, args)
	case *tree.AlterTenantReplication:
		return s.execAlterReplication(stmtCtx, h, prep, t, args)
	default:
		return nil, pgerror.Newf(pgcode.FeatureNotSupported, "%s is not supported", tag)
	}
	return &bufferedResult{tag: tag}, nil
}

// evalVCSpec evaluates a VC name or [id]; all reports ALL.
func (s *Session) evalVCSpec(ctx context.Context, ts *tree.TenantSpec, args tree.Datums) (vcSpec, bool, error) {
	if ts == nil || ts.All {
		return vcSpec{}, true, nil
	}
	if ts.IsName {
		name, err := s.evalVCName(ctx, ts, args)
		return vcSpec{name: name}, false, err
	}
	v, err := s.varValue(ctx, ts.Expr, args)
	if err != nil {
		return vcSpec{}, false, err
	}
	id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil || id == 0 {
		return vcSpec{}, false, pgerror.Newf(pgcode.InvalidParameterValue, "invalid tenant ID %s", v)
	}
	return vcSpec{id: tenant.ID(id)}, false, nil
}

// evalVCName evaluates a name spec (an identifier, a string or a
// placeholder).
func (s *Session) evalVCName(ctx context.Context, ts *tree.TenantSpec, args tree.Datums) (string, error) {
	if ts == nil || ts.Expr == nil {
		return "", pgerror.Newf(pgcode.Syntax, "a virtual cluster name is required")
	}
	if un, ok := ts.Expr.(*tree.UnresolvedName); ok && un.NumParts == 1 {
		return un.Parts[0], nil
	}
	return s.varValue(ctx, ts.Expr, args)
}
