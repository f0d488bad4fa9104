package sql

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/tenant"
)

// The auto-finalizer finalizes the system VC to the binary's release,
// like CockroachDB's auto-upgrade: after a binary upgrade the system VC
// would otherwise stay at the previous release until an operator ran SET
// CLUSTER SETTING version. It is held by the system VC's
// cluster.preserve_downgrade_option (keep the option of rolling the binary
// back) and by cluster.auto_upgrade.enabled = false. Application VCs are
// never finalized automatically: their users finalize them, after the
// system VC, in the order of the upgrade procedure.
//
// Goroutine: one per Host, started by NewHost and stopped by Close. It
// makes one pass at start and one after each wake (a change of either
// setting in the system VC), and otherwise sleeps.

// autoFinalizer is the Host's auto-finalization state.
type autoFinalizer struct {
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	// requested counts wakes (the start included); completed is the value
	// of requested that the latest finished pass had seen, so a test can
	// wait until every wake so far has been served (waitAutoFinalized).
	requested atomic.Int64
	completed atomic.Int64
	// held remembers why the last pass did not finalize, so the reason is
	// logged once rather than at every pass.
	held string
}

func (h *Host) startAutoFinalizer() {
	ctx, cancel := context.WithCancel(context.Background())
	af := &h.autoFinal
	af.wake = make(chan struct{}, 1)
	af.cancel = cancel
	af.done = make(chan struct{})
	go func() {
		defer close(af.done)
		h.runAutoFinalizer(ctx)
	}()
	h.wakeAutoFinalizer()
}

func (h *Host) stopAutoFinalizer() {
	if h.autoFinal.cancel == nil {
		return
	}
	h.autoFinal.cancel()
	<-h.autoFinal.done
}

// wakeAutoFinalizer asks for a pass (without blocking).
func (h *Host) wakeAutoFinalizer() {
	if h.autoFinal.wake == nil {
		return
	}
	h.autoFinal.requested.Add(1)
	select {
	case h.autoFinal.wake <- struct{}{}:
	default:
	}
}

func (h *Host) runAutoFinalizer(ctx context.Context) {
	af := &h.autoFinal
	for {
		select {
		case <-ctx.Done():
			return
		case <-af.wake:
		}
		seen := af.requested.Load()
		if err := h.autoFinalizePass(ctx); err != nil && ctx.Err() == nil {
			// The next wake (or restart) tries again; a failure here
			// never affects serving.
			h.cfg.Logf("automatic finalization of the system virtual cluster: %v", err)
		}
		af.completed.Store(seen)
	}
}

// autoFinalizePass finalizes the system VC to the binary's release unless
// it is there already or held.
func (h *Host) autoFinalizePass(ctx context.Context) error {
	target := tenant.Binary()
	var from tenant.Version
	var held string
	err := tenant.RunTxn(ctx, h.kv, func(txn *kv.Txn) error {
		held = ""
		keys := catalog.SystemKeys()
		cur, found, err := catalog.ClusterVersion(ctx, txn, keys)
		if err != nil || !found || !cur.Less(target) {
			return err
		}
		from = cur
		if v, found, err := catalog.GetSetting(ctx, txn, keys, settingPreserveDowngrade); err != nil {
			return err
		} else if found && v != "" {
			held = "cluster.preserve_downgrade_option is set to " + v +
				" (RESET CLUSTER SETTING cluster.preserve_downgrade_option to finalize)"
			return nil
		}
		if v, found, err := catalog.GetSetting(ctx, txn, keys, settingAutoUpgrade); err != nil {
			return err
		} else if b, perr := strconv.ParseBool(v); found && perr == nil && !b {
			held = "cluster.auto_upgrade.enabled is false (SET CLUSTER SETTING version = '" + target.String() + "' finalizes it)"
			return nil
		}
		return catalog.PutSetting(txn, keys, catalog.VersionSetting, target.String())
	})
	if err != nil {
		return err
	}
	af := &h.autoFinal
	switch {
	case held != "":
		if held != af.held {
			h.cfg.Logf("the system virtual cluster stays at cluster version %s although this binary runs %s: %s",
				from, target, held)
		}
	case !from.IsZero():
		h.cfg.Logf("finalized the system virtual cluster from cluster version %s to %s automatically (set cluster.preserve_downgrade_option before upgrading the binary to prevent this)",
			from, target)
	}
	af.held = held
	return nil
}

// waitAutoFinalized blocks until the auto-finalizer has served every wake
// requested so far, or ctx ends (tests).
func (h *Host) waitAutoFinalized(ctx context.Context) error {
	want := h.autoFinal.requested.Load()
	for h.autoFinal.completed.Load() < want {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}
