package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/tenant"
)

// The operations on VC records and services behind the virtual cluster
// statements (vc_stmt.go) and Initialize. Each takes h.mu (see Host) and
// runs its own transactions, because its effects outside KV — a service
// started or stopped, a span cleared — cannot be rolled back with a
// transaction.

// vcSpec names a VC: by name, or by id ([id] in SQL).
type vcSpec struct {
	name string
	id   tenant.ID
}

func (v vcSpec) String() string {
	if v.id != 0 {
		return fmt.Sprintf("[%d]", v.id)
	}
	return v.name
}

// resolve returns the record v names. A name finds only live VCs (dropped
// ones gave up their names); an id finds any VC not fully dropped.
func (h *Host) resolve(ctx context.Context, txn *kv.Txn, v vcSpec) (*tenant.Record, error) {
	if v.id == 0 {
		return h.store.GetByName(ctx, txn, v.name)
	}
	rec, err := h.store.Get(ctx, txn, v.id)
	if err != nil {
		return nil, err
	}
	if !rec.Visible() {
		return nil, pgerror.Newf(pgcode.UndefinedObject, "tenant \"[%d]\" does not exist", v.id)
	}
	return rec, nil
}

// errSystemTenant is CockroachDB's refusal to apply op to the system VC.
func errSystemTenant(op string) error {
	return pgerror.Newf(pgcode.InvalidParameterValue,
		"cannot %s tenant \"%d\", ID assigned to system tenant", op, tenant.SystemID)
}

// createVirtualCluster creates a ready VC without service and bootstraps
// its catalog (defaultdb, postgres, root, admin, its cluster version) in
// the same transaction. With ifNotExists an existing name is no error
// (and nil is returned).
func (h *Host) createVirtualCluster(ctx context.Context, spec vcSpec, ifNotExists bool) (*tenant.Record, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rec := &tenant.Record{ID: spec.id, Name: spec.name, DataState: tenant.DataStateReady, ServiceMode: tenant.ServiceModeNone}
	if spec.id != 0 && spec.name == "" {
		// CockroachDB names a VC created by id "cluster-<id>".
		rec.Name = fmt.Sprintf("cluster-%d", spec.id)
	}
	if rec.Name == tenant.SystemName {
		if ifNotExists {
			return nil, nil
		}
		return nil, pgerror.Newf(pgcode.DuplicateObject, "tenant with name %q already exists", rec.Name)
	}
	exists := false
	err := tenant.RunTxn(ctx, h.kv, func(txn *kv.Txn) error {
		exists = false
		var err error
		if spec.id != 0 {
			err = h.store.CreateWithID(ctx, txn, rec)
		} else {
			_, err = h.store.Create(ctx, txn, rec)
		}
		if err != nil {
			if ifNotExists && pgerror.GetPGCode(err) == pgcode.DuplicateObject {
				exists = true
				return nil
			}
			return err
		}
		_, err = catalog.Bootstrap(ctx, txn, catalog.Keys{Prefix: tenant.Prefix(rec.ID)})
		return err
	})
	if err != nil || exists {
		return nil, err
	}
	h.cfg.Logf("created virtual cluster %q (%d)", rec.Name, rec.ID)
	return rec, h.refreshVirtualized(ctx, nil)
}

// setServiceMode starts (shared) or stops (none) a VC's service. STOP is
// synchronous: the service is out of the registry (new connections are
// refused) and its sessions are terminated before the record says none.
func (h *Host) setServiceMode(ctx context.Context, spec vcSpec, mode tenant.ServiceMode) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	rec, err := h.resolve(ctx, nil, spec)
	if err != nil {
		return err
	}
	if rec.IsSystem() {
		return errSystemTenant("set tenant service")
	}
	if rec.ServiceMode == mode {
		return nil
	}
	switch mode {
	case tenant.ServiceModeShared:
		if rec.ServiceMode == tenant.ServiceModeStopping {
			return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
				"service currently stopping, cannot start service until stop has completed")
		}
		if rec.DataState != tenant.DataStateReady {
			return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
				"cannot use tenant service mode %s with data state %s", mode, rec.DataState)
		}
		// The record first: if the process dies after it, the service
		// starts at the next boot, as the user asked.
		if err := h.store.Update(ctx, rec.ID, func(r *tenant.Record) error {
			r.ServiceMode = tenant.ServiceModeShared
			return nil
		}); err != nil {
			return err
		}
		if err := h.startServiceLocked(ctx, rec); err != nil {
			_ = h.store.Update(ctx, rec.ID, func(r *tenant.Record) error {
				r.ServiceMode = tenant.ServiceModeNone
				return nil
			})
			return err
		}
		return nil
	case tenant.ServiceModeNone:
		if err := h.store.Update(ctx, rec.ID, func(r *tenant.Record) error {
			r.ServiceMode = tenant.ServiceModeStopping
			return nil
		}); err != nil {
			return err
		}
		if svc := h.registry.Remove(rec.ID); svc != nil {
			h.stopService(ctx, svc.(*Server))
			h.cfg.Logf("stopped the SQL service of virtual cluster %q (%d)", rec.Name, rec.ID)
		}
		return h.store.Update(ctx, rec.ID, func(r *tenant.Record) error {
			r.ServiceMode = tenant.ServiceModeNone
			return nil
		})
	}
	return errors.AssertionFailedf("unexpected service mode %q", mode)
}

// renameVirtualCluster renames a VC that is not serving (routing is by
// name, so a running service keeps its name).
func (h *Host) renameVirtualCluster(ctx context.Context, spec vcSpec, newName string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := tenant.CheckName(newName); err != nil {
		return err
	}
	return tenant.RunTxn(ctx, h.kv, func(txn *kv.Txn) error {
		rec, err := h.resolve(ctx, txn, spec)
		if err != nil {
			return err
		}
		if rec.IsSystem() {
			return errSystemTenant("rename")
		}
		if rec.Name == newName {
			return nil
		}
		if rec.ServiceMode != tenant.ServiceModeNone {
			return errors.WithHint(pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
				"cannot rename tenant in service mode %s", rec.ServiceMode),
				"Use ALTER VIRTUAL CLUSTER STOP SERVICE before renaming a tenant.")
		}
		if rec.DataState == tenant.DataStateDropping {
			return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
				"cannot rename tenant %q (%d) in data state %s", vcName(rec), rec.ID, rec.DataState)
		}
		if newName == tenant.SystemName {
			return pgerror.Newf(pgcode.DuplicateObject, "name %q is already taken", newName)
		}
		if _, err := h.store.GetByName(ctx, txn, newName); err == nil {
			return pgerror.Newf(pgcode.DuplicateObject, "name %q is already taken", newName)
		} else if pgerror.GetPGCode(err) != pgcode.UndefinedObject {
			return err
		}
		rec.Name = newName
		return h.store.Put(ctx, txn, rec)
	})
}

// dropVirtualCluster marks a VC dropping (freeing its name at once) and
// clears its span: before returning with immediate, else in the
// background drop job.
//
// A replicating VC's consumer job is cancelled first, before the record
// says dropping (so that nothing is ingested into a span the drop job may
// already clear) and outside h.mu (the job's hooks take h.mu, and Cancel
// waits for the job). A replicating VC passes every check below (it never
// serves), so the cancel is never in vain.
func (h *Host) dropVirtualCluster(ctx context.Context, spec vcSpec, ifExists, immediate bool) error {
	if rec, err := h.resolve(ctx, nil, spec); err == nil && rec.ConsumerJobID != 0 && h.consumer != nil {
		// The job stops, releases its protection and tells the source
		// (best effort) to end its producer job and release the source's
		// protection.
		if err := h.consumer.Cancel(ctx, rec.ID); err != nil {
			return errors.Wrapf(err, "cancelling the replication of virtual cluster %q", rec.Name)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var dropped *tenant.Record
	err := tenant.RunTxn(ctx, h.kv, func(txn *kv.Txn) error {
		dropped = nil
		rec, err := h.resolve(ctx, txn, spec)
		if err != nil {
			if ifExists && pgerror.GetPGCode(err) == pgcode.UndefinedObject {
				return nil
			}
			return err
		}
		if rec.IsSystem() {
			return errSystemTenant("destroy")
		}
		if rec.DataState == tenant.DataStateDropping {
			return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
				"tenant %q (%d) is already in data state DROP", rec.DroppedName, rec.ID)
		}
		if rec.ServiceMode != tenant.ServiceModeNone {
			return errors.WithHint(pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
				"cannot drop tenant %q (%d) in service mode %s", rec.Name, rec.ID, rec.ServiceMode),
				"Use ALTER VIRTUAL CLUSTER STOP SERVICE before DROP VIRTUAL CLUSTER.")
		}
		rec.DataState = tenant.DataStateDropping
		rec.DroppedName, rec.Name = rec.Name, ""
		dropped = rec
		return h.store.Put(ctx, txn, rec)
	})
	if err != nil || dropped == nil {
		return err
	}
	if h.cfg.OnDrop != nil {
		if err := h.cfg.OnDrop(ctx, dropped); err != nil {
			h.cfg.Logf("dropping virtual cluster %q (%d): %v", dropped.DroppedName, dropped.ID, err)
		}
	}
	h.cfg.Logf("dropped virtual cluster %q (%d)", dropped.DroppedName, dropped.ID)
	if err := h.refreshVirtualized(ctx, nil); err != nil {
		return err
	}
	if immediate {
		return h.clearVirtualCluster(ctx, dropped.ID)
	}
	h.wakeDropJob()
	return nil
}

// Capabilities a VC can be granted (CRDB-PCR-FACTS §1.3): recorded and
// shown; vcdb's single-node KV layer has no operation they restrict.
var capabilityNames = []string{
	"can_admin_relocate_range", "can_admin_scatter", "can_admin_split", "can_admin_unsplit",
	"can_check_consistency", "can_debug_process", "can_prepare_txns", "can_use_nodelocal_storage",
	"can_view_all_metrics", "can_view_node_info", "can_view_tsdb_metrics", "exempt_from_rate_limiting",
	"span_config_bounds",
}

// capabilityValue is the value of capability name in rec as SHOW prints it.
func capabilityValue(rec *tenant.Record, name string) string {
	if v, ok := rec.Capabilities[name]; ok {
		return v
	}
	if name == "span_config_bounds" {
		return "{}"
	}
	return "false"
}

// capabilityChange is one GRANT/REVOKE CAPABILITY item.
type capabilityChange struct {
	name  string
	value string // for GRANT; "" means true
}

// setCapabilities applies GRANT/REVOKE [ALL] CAPABILITIES.
func (h *Host) setCapabilities(ctx context.Context, spec vcSpec, revoke, all bool, changes []capabilityChange) error {
	known := map[string]bool{}
	for _, n := range capabilityNames {
		known[n] = true
	}
	for _, c := range changes {
		if !known[c.name] {
			return pgerror.Newf(pgcode.InvalidParameterValue, "unknown capability: %q", c.name)
		}
		if c.name == "span_config_bounds" && !revoke {
			return pgerror.Newf(pgcode.FeatureNotSupported, "capability span_config_bounds cannot be set: vcdb has no span configurations")
		}
		switch c.value {
		case "", "true", "false":
		default:
			return pgerror.Newf(pgcode.InvalidParameterValue,
				"invalid value for capability %s: %q (a boolean is required)", c.name, c.value)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return tenant.RunTxn(ctx, h.kv, func(txn *kv.Txn) error {
		rec, err := h.resolve(ctx, txn, spec)
		if err != nil {
			return err
		}
		if rec.IsSystem() {
			return errSystemTenant("update capabilities of")
		}
		if rec.Capabilities == nil {
			rec.Capabilities = map[string]string{}
		}
		if all {
			for _, n := range capabilityNames {
				if n == "span_config_bounds" {
					continue
				}
				if revoke {
					delete(rec.Capabilities, n)
				} else {
					rec.Capabilities[n] = "true"
				}
			}
		}
		for _, c := range changes {
			v := c.value
			if v == "" {
				v = "true"
			}
			if revoke || v == "false" {
				delete(rec.Capabilities, c.name)
			} else {
				rec.Capabilities[c.name] = v
			}
		}
		if len(rec.Capabilities) == 0 {
			rec.Capabilities = nil
		}
		return h.store.Put(ctx, txn, rec)
	})
}

// allOverridesKey holds the setting overrides of ALTER VIRTUAL CLUSTER ALL
// SET CLUSTER SETTING (JSON name → value).
func allOverridesKey() []byte {
	return append(tenant.MetaPrefix(tenant.MetaCluster), "all_tenants_setting_overrides"...)
}

func readAllOverrides(ctx context.Context, txn *kv.Txn) (map[string]string, error) {
	v, found, err := txn.Get(ctx, allOverridesKey())
	if err != nil || !found {
		return nil, err
	}
	m := map[string]string{}
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, errors.Wrap(err, "decoding setting overrides")
	}
	return m, nil
}

// setSettingOverride stores (value set) or removes an override of cluster
// setting name for one VC, or for all (spec nil).
func (h *Host) setSettingOverride(ctx context.Context, spec *vcSpec, name, value string, set bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return tenant.RunTxn(ctx, h.kv, func(txn *kv.Txn) error {
		if spec == nil {
			m, err := readAllOverrides(ctx, txn)
			if err != nil {
				return err
			}
			if m == nil {
				m = map[string]string{}
			}
			if set {
				m[name] = value
			} else {
				delete(m, name)
			}
			b, err := json.Marshal(m)
			if err != nil {
				return err
			}
			return txn.Put(allOverridesKey(), b)
		}
		rec, err := h.resolve(ctx, txn, *spec)
		if err != nil {
			return err
		}
		if rec.IsSystem() {
			return errSystemTenant("set cluster setting overrides of")
		}
		if set {
			if rec.SettingOverrides == nil {
				rec.SettingOverrides = map[string]string{}
			}
			rec.SettingOverrides[name] = value
		} else {
			delete(rec.SettingOverrides, name)
			if len(rec.SettingOverrides) == 0 {
				rec.SettingOverrides = nil
			}
		}
		return h.store.Put(ctx, txn, rec)
	})
}

// settingOverride returns the override of setting name for VC id: its own,
// else the ALL one.
func (h *Host) settingOverride(ctx context.Context, txn *kv.Txn, id tenant.ID, name string) (string, bool, error) {
	// The records live in the system VC's span; the caller's transaction
	// reads them at its own timestamp (AS OF SYSTEM TIME included).
	rd := txn
	if rd == nil {
		rd = h.kv.Begin(kv.TxnOptions{ReadOnly: true})
		defer rd.Rollback()
	}
	rec, err := h.store.Get(ctx, rd, id)
	if err != nil {
		return "", false, err
	}
	if v, ok := rec.SettingOverrides[name]; ok {
		return v, true, nil
	}
	m, err := readAllOverrides(ctx, rd)
	if err != nil {
		return "", false, err
	}
	v, ok := m[name]
	return v, ok, nil
}

// listVisible returns the VCs SHOW VIRTUAL CLUSTERS lists, ordered by id.
func (h *Host) listVisible(ctx context.Context, txn *kv.Txn) ([]*tenant.Record, error) {
	recs, err := h.store.List(ctx, txn)
	if err != nil {
		return nil, err
	}
	out := recs[:0]
	for _, r := range recs {
		if r.Visible() {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
