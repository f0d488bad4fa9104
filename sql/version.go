package sql

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/tenant"
)

// Versions (CONTRACT §6, docs/versions.md)
//
// The binary's release (tenant.Binary) is the one source of every version
// string: version(), `vcdb version`, the start banner and the cluster
// version a fresh store bootstraps at. Each VC has an active cluster
// version, its "version" setting, stored in its own span so a replicated
// VC carries it. A binary runs exactly two cluster versions, its own and
// the previous release (tenant.Supports).
//
// Rules, checked here:
//   - NewHost refuses a store whose system VC (or a ready application VC)
//     is at a version the binary cannot run, before writing anything.
//   - SET CLUSTER SETTING version = 'X' finalizes one VC: X must parse and
//     be supported, never a downgrade; equal is a no-op; an application VC
//     never goes above its system VC; a read-only VC follows its source by
//     replication and refuses; while cluster.preserve_downgrade_option is
//     set the upgrade is refused (as in CockroachDB); for an application VC
//     the replication streams out of it are consulted last
//     (checkFinalizeWithStreams, version_pcr.go).
//   - The system VC finalizes itself to the binary's release shortly after
//     start-up, unless its cluster.preserve_downgrade_option is set or its
//     cluster.auto_upgrade.enabled is false (autoFinalizer). Application
//     VCs are finalized by their users, in the order of the upgrade
//     procedure (docs/upgrades.md).

// Names of the version settings besides "version" itself.
const (
	settingPreserveDowngrade = "cluster.preserve_downgrade_option"
	settingAutoUpgrade       = "cluster.auto_upgrade.enabled"
)

// nodeExecutableVersionFunc is CockroachDB's builtin naming the binary's
// release; `SET CLUSTER SETTING version = crdb_internal.node_executable_version()`
// is the idiom to finalize to it.
const nodeExecutableVersionFunc = "crdb_internal.node_executable_version"

func init() {
	registerSettings(
		&clusterSetting{name: settingPreserveDowngrade, kind: settingString, def: "",
			description: "disable (automatic or manual) cluster version upgrade from the specified version until reset"},
		&clusterSetting{name: settingAutoUpgrade, kind: settingBool, def: "true",
			description: "if set, the system virtual cluster is finalized to the binary's release automatically (unless cluster.preserve_downgrade_option is set)"},
	)
}

// versionTextCache holds version()'s text for the release it was built
// for. The text derives from tenant.Binary, which tests may switch
// in-process, so it is checked per use but formatted once per release.
var versionTextCache atomic.Pointer[versionTextEntry]

type versionTextEntry struct {
	release tenant.Version
	text    string
	short   string // "25.2", crdb_internal.node_executable_version()
}

// versionString is version()'s result, e.g. "vcdb v25.2.0
// (CockroachDB-compatible SQL, PostgreSQL 13.0.0 wire protocol)".
func versionString() string {
	return versionText().text
}

// executableVersion is the binary's release, "25.2".
func executableVersion() string {
	return versionText().short
}

func versionText() *versionTextEntry {
	v := tenant.Binary()
	if e := versionTextCache.Load(); e != nil && e.release == v {
		return e
	}
	e := &versionTextEntry{release: v, short: v.String(), text: fmt.Sprintf(
		"vcdb %s (CockroachDB-compatible SQL, PostgreSQL %s wire protocol)", tenant.BinaryString(), serverVersion)}
	versionTextCache.Store(e)
	return e
}

// isNodeExecutableVersionCall reports whether e is
// crdb_internal.node_executable_version() (without arguments).
func isNodeExecutableVersionCall(e tree.Expr) bool {
	f, ok := e.(*tree.FuncExpr)
	if !ok || len(f.Exprs) != 0 {
		return false
	}
	return strings.EqualFold(tree.AsStringWithFlags(&f.Func, tree.FmtBareIdentifiers), nodeExecutableVersionFunc)
}

// supportedText lists the cluster versions this binary runs, for messages.
func supportedText() string {
	return tenant.MinSupported().String() + " and " + tenant.Binary().String()
}

// invalidVersion is the error for a version value that does not parse.
func invalidVersion(setting, value string) error {
	return errors.WithHint(pgerror.Newf(pgcode.InvalidParameterValue,
		"invalid value for cluster setting %s: %q is not a version", setting, value),
		"versions are written YY.N, for example '"+tenant.Binary().String()+"'")
}

// setClusterVersion runs SET CLUSTER SETTING version in txn for this
// session's VC: it checks the rules above and stores the new version.
// set is false for RESET, which is refused.
func (s *Session) setClusterVersion(ctx context.Context, txn *kv.Txn, value string, set bool) error {
	if !set {
		return errors.WithHint(pgerror.Newf(pgcode.InvalidParameterValue,
			"cannot RESET cluster setting version: a finalized upgrade cannot be undone"),
			"SET CLUSTER SETTING version = '<version>' finalizes an upgrade")
	}
	target, err := tenant.ParseVersion(value)
	if err != nil {
		return invalidVersion(catalog.VersionSetting, value)
	}
	cur, found, err := catalog.ClusterVersion(ctx, txn, s.srv.keys)
	if err != nil {
		return err
	}
	if !found {
		return errors.AssertionFailedf("virtual cluster %q has no cluster version", s.srv.TenantName())
	}
	if target == cur {
		return nil
	}
	if target.Less(cur) {
		return errors.WithHint(pgerror.Newf(pgcode.InvalidParameterValue,
			"versions cannot be downgraded (attempting to downgrade from %s to %s)", cur, target),
			"a finalized upgrade is permanent; to keep the option of going back, set cluster.preserve_downgrade_option before upgrading the binary")
	}
	if !tenant.Supports(target) {
		return errors.WithHintf(pgerror.Newf(pgcode.InvalidParameterValue,
			"cannot upgrade to %s: node running %s", target, tenant.Binary()),
			"this binary (%s) runs cluster versions %s; upgrade the binary first", tenant.BinaryString(), supportedText())
	}
	preserve, err := s.srv.effectiveSetting(ctx, txn, clusterSettings[settingPreserveDowngrade])
	if err != nil {
		return err
	}
	if preserve != "" {
		return errors.WithHintf(pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"cannot upgrade to %s: cluster.preserve_downgrade_option is set to %s", target, preserve),
			"RESET CLUSTER SETTING %s first%s", settingPreserveDowngrade, s.srv.autoFinalizeNote())
	}
	if !s.srv.isSystem() {
		sys, found, err := catalog.ClusterVersion(ctx, txn, catalog.SystemKeys())
		if err != nil {
			return err
		}
		if found && sys.Less(target) {
			return errors.WithHintf(pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
				"cannot finalize virtual cluster %q to version %s: the system virtual cluster is at version %s",
				s.srv.TenantName(), target, sys),
				"finalize the system virtual cluster first: SET CLUSTER SETTING version = '%s' in the system virtual cluster", target)
		}
		if h := s.srv.host; h != nil {
			if err := h.checkFinalizeWithStreams(ctx, s.srv.cfg.TenantID, target); err != nil {
				return err
			}
		}
	}
	if err := catalog.PutSetting(txn, s.srv.keys, catalog.VersionSetting, target.String()); err != nil {
		return err
	}
	if h := s.srv.host; h != nil {
		h.cfg.Logf("virtual cluster %q: cluster version finalized from %s to %s", s.srv.TenantName(), cur, target)
	}
	return nil
}

// autoFinalizeNote completes the preserve_downgrade_option hint: in the
// system VC, resetting the option is itself enough.
func (s *Server) autoFinalizeNote() string {
	if s.isSystem() {
		return " (the system virtual cluster then finalizes automatically unless cluster.auto_upgrade.enabled is false)"
	}
	return ", then finalize"
}

// checkPreserveDowngrade validates SET CLUSTER SETTING
// cluster.preserve_downgrade_option = value: as in CockroachDB it may only
// name the VC's active cluster version.
func (s *Session) checkPreserveDowngrade(ctx context.Context, txn *kv.Txn, value string) error {
	v, err := tenant.ParseVersion(value)
	if err != nil {
		return invalidVersion(settingPreserveDowngrade, value)
	}
	cur, _, err := catalog.ClusterVersion(ctx, txn, s.srv.keys)
	if err != nil {
		return err
	}
	if v != cur {
		return errors.WithHintf(pgerror.Newf(pgcode.InvalidParameterValue,
			"cannot set %s to %s (cluster version is %s)", settingPreserveDowngrade, v, cur),
			"the option holds a virtual cluster at its current version: set it to '%s'", cur)
	}
	return nil
}

// refuseReadOnlyVersion refuses a change of the version settings in a
// read-only VC: its span is written by replication only, and its version
// follows its source's.
func (s *Session) refuseReadOnlyVersion(name string) error {
	if s.srv.cfg.ReadOnlyAt == nil {
		return nil
	}
	switch strings.ToLower(name) {
	case catalog.VersionSetting, settingPreserveDowngrade, settingAutoUpgrade:
	default:
		return nil
	}
	return errors.WithHint(pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
		"cannot set cluster setting %s in virtual cluster %q: it is a read-only view of a replicated virtual cluster, whose version follows its source by replication",
		strings.ToLower(name), s.srv.TenantName()),
		"finalize the source virtual cluster on the primary; its version reaches this one by replication")
}

// StoreVersionError is NewHost's refusal of a store written at a cluster
// version this binary cannot run.
type StoreVersionError struct {
	// VC names the virtual cluster whose version is unsupported ("system"
	// for the store's own version).
	VC string
	// Store is that VC's active cluster version; Binary is this binary's
	// release.
	Store, Binary tenant.Version
}

func (e *StoreVersionError) Error() string {
	subject := fmt.Sprintf("this store is at cluster version %s", e.Store)
	if e.VC != tenant.SystemName {
		subject = fmt.Sprintf("virtual cluster %q in this store is at cluster version %s", e.VC, e.Store)
	}
	bin := "v" + e.Binary.String() + ".0"
	min := e.Binary.Previous()
	if e.Binary.Less(e.Store) {
		return fmt.Sprintf("cannot start: %s, newer than this binary (%s) can run (cluster versions %s and %s); "+
			"start this store with a vcdb binary of release %s or later (a finalized upgrade cannot be rolled back)",
			subject, bin, min, e.Binary, e.Store)
	}
	where := ""
	if e.VC != tenant.SystemName {
		where = " in virtual cluster " + e.VC
	}
	return fmt.Sprintf("cannot start: %s, older than this binary (%s) can run (cluster versions %s and %s); "+
		"start this store with a v%s.0 binary first and finalize the upgrade to %s (SET CLUSTER SETTING version = '%s'%s), then use this binary",
		subject, bin, min, e.Binary, min, min, min, where)
}

// checkStoreVersion refuses, before anything is written, a store this
// binary cannot run: its system VC (whose active version is the store's
// version) or one of its ready application VCs is at a cluster version
// other than the binary's release or the one before. A fresh store (no
// system VC catalog yet) passes. Replicating VCs are not checked: their
// version is their source's, which the replication stream checks.
func checkStoreVersion(ctx context.Context, e *kv.Engine) error {
	txn := e.Begin(kv.TxnOptions{ReadOnly: true})
	defer txn.Rollback()
	sys, found, err := catalog.ClusterVersion(ctx, txn, catalog.SystemKeys())
	if err != nil {
		return errors.Wrap(err, "reading the store's cluster version")
	}
	if !found {
		return nil
	}
	if !tenant.Supports(sys) {
		return &StoreVersionError{VC: tenant.SystemName, Store: sys, Binary: tenant.Binary()}
	}
	recs, err := tenant.NewStore(e).List(ctx, txn)
	if err != nil {
		return errors.Wrap(err, "reading the virtual cluster records")
	}
	for _, rec := range recs {
		if rec.IsSystem() || rec.DataState != tenant.DataStateReady || rec.ReadFrom != 0 {
			continue
		}
		v, found, err := catalog.ClusterVersion(ctx, txn, catalog.Keys{Prefix: tenant.Prefix(rec.ID)})
		if err != nil {
			return errors.Wrapf(err, "reading the cluster version of virtual cluster %q", rec.Name)
		}
		if found && !tenant.Supports(v) {
			return &StoreVersionError{VC: rec.Name, Store: v, Binary: tenant.Binary()}
		}
	}
	return nil
}
