package sql

import (
	"context"
	"time"

	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// The drop job clears the data of VCs dropped without IMMEDIATE. It is one
// goroutine owned by the Host: started by NewHost, woken by DROP (and at
// start, for drops a restart interrupted), stopped and waited for by
// Close. A clear that fails is retried after dropRetryInterval. Clearing
// is idempotent (kv.ClearRange, then the record moves from dropping to
// dropped), so DROP ... IMMEDIATE, which clears in the statement, may race
// it harmlessly.

// dropRetryInterval is how long the job waits before retrying a failed
// clear.
const dropRetryInterval = time.Second

func (h *Host) startDropJob() {
	ctx, cancel := context.WithCancel(context.Background())
	h.drop.wake = make(chan struct{}, 1)
	h.drop.cancel = cancel
	h.drop.wg.Add(1)
	go func() {
		defer h.drop.wg.Done()
		h.runDropJob(ctx)
	}()
	h.wakeDropJob()
}

func (h *Host) stopDropJob() {
	if h.drop.cancel == nil {
		return
	}
	h.drop.cancel()
	h.drop.wg.Wait()
}

// wakeDropJob makes the job look for dropped VCs (without blocking).
func (h *Host) wakeDropJob() {
	select {
	case h.drop.wake <- struct{}{}:
	default:
	}
}

func (h *Host) runDropJob(ctx context.Context) {
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.drop.wake:
		case <-retry:
		}
		retry = nil
		if err := h.clearDropped(ctx); err != nil && ctx.Err() == nil {
			h.cfg.Logf("clearing dropped virtual clusters: %v (retrying)", err)
			retry = time.After(dropRetryInterval)
		}
	}
}

// clearDropped clears every VC in data state dropping.
func (h *Host) clearDropped(ctx context.Context) error {
	recs, err := h.store.List(ctx, nil)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.DataState != tenant.DataStateDropping {
			continue
		}
		if f := h.cfg.Knobs.BeforeDropClear; f != nil {
			f(ctx, rec.ID)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := h.clearVirtualCluster(ctx, rec.ID); err != nil {
			return err
		}
	}
	return nil
}

// clearVirtualCluster removes every version of VC id's span and marks its
// record dropped (hidden; its id stays allocated forever).
func (h *Host) clearVirtualCluster(ctx context.Context, id tenant.ID) error {
	span := kv.Span{Key: tenant.Prefix(id), EndKey: tenant.PrefixEnd(id)}
	if err := h.kv.ClearRange(ctx, span); err != nil {
		return err
	}
	err := h.store.Update(ctx, id, func(r *tenant.Record) error {
		if r.DataState == tenant.DataStateDropping {
			r.DataState = tenant.DataStateDropped
		}
		return nil
	})
	if err == nil {
		h.cfg.Logf("cleared the data of dropped virtual cluster %d", id)
	}
	return err
}
