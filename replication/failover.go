package replication

import (
	"bytes"
	"context"

	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// Failover (COMPLETE REPLICATION), once the replicated time has reached the
// failover time t and ingestion has stopped:
//
//  1. Revert the VC's span to exactly t, in chunks of RevertChunkKeys keys,
//     recording after each chunk where the next starts, so a restart
//     resumes the revert instead of redoing it. When the progress register
//     shows nothing was ever written above t (the usual case for TO
//     LATEST), there is nothing to revert and the step is skipped; that
//     keeps failover to LATEST in the milliseconds.
//  2. Create the retention producer job on the promoted VC (protection at
//     t, so that the old primary can fail back without a full copy).
//  3. Drop the read-only VCs after a failover to a past time (they stay,
//     frozen, after LATEST), so that they are gone once the VC is ready:
//     every VC that reads this one, including a reader left over from an
//     earlier stream into the same VC, which this job did not create.
//  4. Activate, in one transaction with the job's completion: data state
//     ready, service none, no consumer job, and the prior replication
//     details {source cluster, source VC, activation time t}; then
//     release the consumer's protection.
//  5. Tell the source, best effort and bounded, that the stream completed.
//
// Each step is idempotent or recorded, so a restart anywhere resumes it.

// revertSpan reverts the job's VC span to `to`, resuming a revert to the
// same time where the progress register says it stopped.
func (j *consumerJob) revertSpan(ctx context.Context, to kv.Timestamp) error {
	eng := j.c.cfg.Engine
	prog, err := readProgress(ctx, eng, j.rec.ID)
	if err != nil {
		return err
	}
	if prog.RevertTo != to {
		prog.RevertTo = to
		prog.RevertResumeKey = nil
		prog.RevertDone = false
	}
	// MaxWritten bounds every timestamp this job wrote (a failback job
	// starts it at MaxTimestamp: the span's own history is unknown).
	if prog.RevertDone || prog.MaxWritten.LessEq(to) {
		j.metrics.cutoverProgress.Store(0)
		return nil
	}
	span := tenantSpan(j.rec.TenantID)
	cursor := span.Key
	if len(prog.RevertResumeKey) > 0 {
		cursor = prog.RevertResumeKey
	}
	chunks := 0
	for bytes.Compare(cursor, span.EndKey) < 0 {
		j.metrics.cutoverProgress.Store(1)
		res, err := eng.Scan(ctx, kv.Span{Key: cursor, EndKey: span.EndKey}, eng.Now(), kv.ScanOptions{MaxRows: j.c.cfg.RevertChunkKeys})
		if err != nil {
			return err
		}
		next := span.EndKey
		if res.ResumeSpan != nil {
			next = append([]byte(nil), res.ResumeSpan.Key...)
		}
		if err := eng.RevertRange(ctx, kv.Span{Key: cursor, EndKey: next}, to); err != nil {
			return err
		}
		prog.RevertResumeKey = next
		if err := writeProgress(ctx, eng, j.rec.ID, &prog); err != nil {
			return err
		}
		cursor = next
		chunks++
		if k := j.c.cfg.Knobs.AfterRevertChunk; k != nil {
			if err := k(chunks); err != nil {
				return err
			}
		}
	}
	prog.RevertDone = true
	prog.RevertResumeKey = nil
	if to.Less(prog.MaxWritten) {
		prog.MaxWritten = to
	}
	if prog.ReplicatedTime.Less(to) {
		prog.ReplicatedTime = to
	}
	j.metrics.cutoverProgress.Store(0)
	return writeProgress(ctx, eng, j.rec.ID, &prog)
}

// revertServing runs revertSpan in a goroutine of its own while the job
// goroutine keeps answering user requests: a revert of a large span takes
// a while, and COMPLETE (refused: the time can no longer change), PAUSE or
// DROP must get their answer meanwhile rather than wait for it. A request
// that changes what the job does (a cancel) stops the revert, which a
// later run resumes from its recorded progress.
func (j *consumerJob) revertServing(ctx context.Context, to kv.Timestamp) error {
	want := j.rec.Machine.Next().Kind
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- j.revertSpan(rctx, to) }()
	for {
		select {
		case err := <-done:
			return err
		case r := <-j.ctrl:
			j.handle(ctx, r)
			if j.rec.Machine.Next().Kind != want {
				cancel()
				<-done
				return errRevertInterrupted
			}
		case <-ctx.Done():
			cancel()
			<-done
			return ctx.Err()
		}
	}
}

// readersToDrop returns the read-only VCs a failover to a past time drops:
// every live VC that reads this job's VC, not only the one this job
// created. A reader outlives the job that made it (it stays, frozen, after
// a failover to LATEST), and a later job replicating into the same VC (a
// failback) never records it; its data would still be from the abandoned
// timeline once this VC is reverted.
func (j *consumerJob) readersToDrop(ctx context.Context) ([]tenant.ID, error) {
	recs, err := j.c.cfg.Records.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	var ids []tenant.ID
	for _, r := range recs {
		if r.ReadFrom != j.rec.TenantID || r.ID == j.rec.TenantID {
			continue
		}
		if r.DataState == tenant.DataStateDropping || r.DataState == tenant.DataStateDropped {
			continue
		}
		ids = append(ids, r.ID)
	}
	return ids, nil
}

// errRevertInterrupted ends a revert that a user request made pointless.
var errRevertInterrupted = errors.New("replication: revert interrupted")

// revertFirst is a failback job's first step: revert the original
// primary's span to the divergence time, then stream from it.
func (j *consumerJob) revertFirst(ctx context.Context) {
	if err := j.revertServing(ctx, j.rec.Machine.RevertFirst); err != nil {
		if ctx.Err() == nil && !errors.Is(err, errRevertInterrupted) {
			j.stepAndPersist(ctx, Event{Type: EvStreamError, Err: err})
		}
		return
	}
	prog, err := readProgress(ctx, j.c.cfg.Engine, j.rec.ID)
	if err != nil {
		return
	}
	prog.ScanDone = true
	if err := writeProgress(ctx, j.c.cfg.Engine, j.rec.ID, &prog); err != nil {
		return
	}
	j.prog = prog
	j.stepAndPersist(ctx, Event{Type: EvRevertFirstDone})
}

// failover runs the failover steps above; on an error it retries after a
// backoff (a failover never pauses: the revert must finish).
func (j *consumerJob) failover(ctx context.Context) {
	for attempt := 1; ctx.Err() == nil; attempt++ {
		err := j.failoverOnce(ctx)
		if err == nil || j.rec.Machine.Status != StatusFailingOver {
			// Done, or a user request (a cancel) ended the failover.
			return
		}
		j.rec.Machine.LastError = err.Error()
		m := Machine{Retries: attempt, Policy: j.c.cfg.Retry}
		if !j.retryWait(ctx, m.backoff()) {
			return
		}
		if j.rec.Machine.Status != StatusFailingOver {
			return
		}
	}
}

func (j *consumerJob) failoverOnce(ctx context.Context) error {
	t := j.rec.Machine.FailoverTime
	if err := j.revertServing(ctx, t); err != nil {
		return err
	}
	if j.rec.RetentionJobID == 0 && j.c.cfg.Producer != nil {
		id, err := j.c.cfg.Producer.CreateRetentionJob(ctx, j.rec.TenantID, j.rec.TenantName, t)
		if err != nil {
			return err
		}
		j.rec.RetentionJobID = id
		if err := j.persist(ctx, nil); err != nil {
			return err
		}
	}
	if !j.rec.FailoverLatest && j.c.cfg.Hooks.DropReader != nil {
		// Before the activation, so that once the VC shows ready the
		// read-only VC is gone (dropping is idempotent; a restart does it
		// again).
		readers, err := j.readersToDrop(ctx)
		if err != nil {
			return err
		}
		for _, id := range readers {
			if err := j.c.cfg.Hooks.DropReader(ctx, id); err != nil {
				return err
			}
		}
	}
	old := *j.rec
	if err := j.rec.Machine.Step(Event{Type: EvFailoverDone}); err != nil {
		return err
	}
	err := j.persist(ctx, func(txn *kv.Txn) error {
		vc, err := j.c.cfg.Records.Get(ctx, txn, j.rec.TenantID)
		if err != nil {
			return err
		}
		vc.DataState = tenant.DataStateReady
		vc.ServiceMode = tenant.ServiceModeNone
		vc.ConsumerJobID = 0
		vc.Prior = &tenant.PriorReplication{
			SourceClusterID: j.rec.SourceClusterID,
			SourceTenantID:  j.rec.SourceTenantID,
			ActivationTime:  t.String(),
		}
		return j.c.cfg.Records.Put(ctx, txn, vc)
	})
	if err != nil {
		*j.rec = old
		return err
	}
	// Activation is committed; what follows is clean-up that a restart
	// also performs (Consumer.Start releases a finished job's protection).
	_ = j.c.cfg.Engine.Unprotect(ctx, j.rec.PTSID)
	j.completeSource(true)
	return nil
}
