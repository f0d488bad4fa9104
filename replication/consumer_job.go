package replication

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// consumerJob is one running consumer job.
//
// Ownership: the job's goroutine (run) owns rec, including the state
// machine, and is the only writer of the job record. User requests arrive
// on ctrl and are answered after the change is persisted. A streaming
// session (ingest.go) runs in goroutines the job goroutine starts and
// waits for; it reports through atomics and a nudge channel, never by
// touching rec. Readers outside (status, metrics, the read-only VC) use the
// atomics and the published snapshot.
type consumerJob struct {
	id   int64 // immutable copy of rec.ID, for other goroutines
	c    *Consumer
	rec  *ConsumerJob
	prog consumerProgress // as of the last session's end; owned by run

	ctrl  chan ctrlReq
	nudge chan struct{}
	done  chan struct{}

	// published is a copy of rec after each persisted change.
	published atomic.Pointer[ConsumerJob]
	// replicated is the durable replicated time, published by the
	// ingester after each flush (ahead of rec until run catches up).
	replicated atomic.Pointer[kv.Timestamp]
	scanDone   atomic.Bool
	// retained is the current retained time, for heartbeats.
	retained atomic.Pointer[kv.Timestamp]
	metrics  jobMetrics
}

type jobMetrics struct {
	logicalBytes    atomic.Int64
	sstBytes        atomic.Int64
	events          atomic.Int64
	resolvedEvents  atomic.Int64
	flushes         atomic.Int64
	running         atomic.Bool
	cutoverProgress atomic.Int64
	// framing is the framing version of the last frame received (0 before
	// any); checksummedFrames counts v2 frames whose checksum verified.
	framing           atomic.Int64
	checksummedFrames atomic.Int64
}

type ctrlReq struct {
	ev           Event
	setRetention bool
	retention    time.Duration
	// addReader creates the read-only VC (SET REPLICATION READ VIRTUAL
	// CLUSTER).
	addReader bool
	reply     chan ctrlResp
}

type ctrlResp struct {
	ts  kv.Timestamp
	err error
}

func newConsumerJob(c *Consumer, rec *ConsumerJob, prog consumerProgress) *consumerJob {
	j := &consumerJob{
		id: rec.ID, c: c, rec: rec, prog: prog,
		ctrl:  make(chan ctrlReq),
		nudge: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	rt := rec.Machine.ReplicatedTime
	j.replicated.Store(&rt)
	j.scanDone.Store(rec.Machine.ScanDone)
	ret := rec.Machine.RetainedTime
	j.retained.Store(&ret)
	j.metrics.logicalBytes.Store(prog.LogicalBytes)
	j.metrics.sstBytes.Store(prog.SSTBytes)
	j.metrics.events.Store(prog.Events)
	j.metrics.resolvedEvents.Store(prog.ResolvedEvents)
	j.metrics.flushes.Store(prog.Flushes)
	j.publish()
	return j
}

func (j *consumerJob) publish() {
	cp := *j.rec
	j.published.Store(&cp)
}

// request hands a user request to the job goroutine and waits for the
// answer.
func (j *consumerJob) request(ctx context.Context, r ctrlReq) (kv.Timestamp, error) {
	r.reply = make(chan ctrlResp, 1)
	select {
	case j.ctrl <- r:
	case <-j.done:
		return kv.Timestamp{}, errJobEnded(j.id)
	case <-ctx.Done():
		return kv.Timestamp{}, ctx.Err()
	}
	select {
	case resp := <-r.reply:
		return resp.ts, resp.err
	case <-ctx.Done():
		return kv.Timestamp{}, ctx.Err()
	}
}

func errJobEnded(id int64) error {
	return errors.Newf("replication: job %d is no longer running", id)
}

// persist writes rec (and, through extra, other records in the same
// transaction) and publishes it.
func (j *consumerJob) persist(ctx context.Context, extra func(txn *kv.Txn) error) error {
	j.rec.touch(j.c.wallNow(), j.rec.Machine.Status.Terminal())
	err := tenant.RunTxn(ctx, j.c.cfg.Engine, func(txn *kv.Txn) error {
		if extra != nil {
			if err := extra(txn); err != nil {
				return err
			}
		}
		return putJSON(txn, jobKey(keyConsumer, j.rec.ID), j.rec)
	})
	if err == nil {
		j.publish()
	}
	return err
}

// run is the job goroutine: it asks the machine what to do and does it,
// until the job ends or ctx (the consumer's) ends.
func (j *consumerJob) run(ctx context.Context) {
	defer close(j.done)
	defer j.c.forget(j.id)
	for ctx.Err() == nil {
		act := j.rec.Machine.Next()
		switch act.Kind {
		case ActExit:
			return
		case ActWaitControl:
			j.waitControl(ctx, nil)
		case ActWaitRetry:
			t := time.NewTimer(act.Backoff)
			if j.waitControl(ctx, t.C) {
				j.stepAndPersist(ctx, Event{Type: EvRetryElapsed})
			}
			t.Stop()
		case ActRevertFirst:
			j.revertFirst(ctx)
		case ActStream:
			j.stream(ctx)
		case ActFailover:
			j.failover(ctx)
		}
	}
}

// waitControl handles user requests until one changes what the job does,
// fire fires (true is returned), or ctx ends.
func (j *consumerJob) waitControl(ctx context.Context, fire <-chan time.Time) bool {
	before := j.rec.Machine.Next()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-fire:
			return true
		case r := <-j.ctrl:
			j.handle(ctx, r)
			if j.rec.Machine.Next() != before {
				return false
			}
		}
	}
}

// handle applies a user request and answers it.
func (j *consumerJob) handle(ctx context.Context, r ctrlReq) {
	old := *j.rec
	var resp ctrlResp
	var extra func(txn *kv.Txn) error
	if r.setRetention {
		j.rec.Retention = r.retention
	} else if r.addReader {
		resp.err = j.checkCanAddReader()
		extra = j.createReaderRecord
	} else {
		resp.err = j.rec.Machine.Step(r.ev)
		if resp.err != nil && old.Machine.Status == StatusFailingOver {
			// CockroachDB's words, with the job the machine does not know.
			resp.err = pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
				"job %d already started cutting over to timestamp %s", j.id, old.Machine.FailoverTime)
		}
		if resp.err == nil && r.ev.Type == EvFailover {
			j.rec.FailoverLatest = r.ev.Latest
			resp.ts = j.rec.Machine.FailoverTime
		}
	}
	if resp.err == nil {
		if err := j.persist(ctx, extra); err != nil {
			*j.rec = old
			resp = ctrlResp{err: err}
		}
	}
	if resp.err == nil && r.addReader && j.rec.Machine.ScanDone && !j.rec.Machine.Status.Terminal() {
		// There is a replicated time to read at already: activate now
		// rather than at the next progress (a paused job makes none).
		j.activateReader(ctx)
		_ = j.persist(ctx, nil)
	}
	r.reply <- resp
	if resp.err == nil && j.rec.Machine.Status == StatusCancelled {
		j.cleanupCancelled(ctx)
	}
}

// stepAndPersist applies an internal event. A failure to persist is left
// for the next step to retry: the in-memory machine is authoritative while
// the job runs, and a restart re-derives progress from the register.
func (j *consumerJob) stepAndPersist(ctx context.Context, ev Event) {
	if err := j.rec.Machine.Step(ev); err != nil {
		// An internal event the state cannot take is a bug; record it
		// rather than crash the process.
		j.rec.Machine.LastError = err.Error()
		return
	}
	_ = j.persist(ctx, nil)
}

// cleanupCancelled releases what a cancelled job holds.
func (j *consumerJob) cleanupCancelled(ctx context.Context) {
	j.metrics.running.Store(false)
	_ = j.c.cfg.Engine.Unprotect(ctx, j.rec.PTSID)
	j.completeSource(false)
}

// completeSource tells the source, best effort and bounded in time, that
// the stream is over. Consumer.Close cuts it short: an unreachable source
// must not hold up a node's shutdown.
func (j *consumerJob) completeSource(successful bool) {
	ctx, cancel := context.WithTimeout(j.c.ctx, j.c.cfg.SourceCompleteTimeout)
	defer cancel()
	src, err := j.c.cfg.Dial(ctx, j.rec.SourceURI)
	if err != nil {
		return
	}
	defer src.Close()
	_ = src.Complete(ctx, j.rec.StreamID, successful)
}

// observeProgress folds the ingester's published progress into the
// machine.
func (j *consumerJob) observeProgress(ctx context.Context) {
	m := &j.rec.Machine
	rt := *j.replicated.Load()
	before := m.Status
	newScan := !m.ScanDone && j.scanDone.Load()
	newProgress := m.ScanDone && m.ReplicatedTime.Less(rt)
	if m.Status.Terminal() || !newScan && !newProgress {
		return
	}
	if m.Status == StatusInitializing && m.RevertFirst.IsEmpty() {
		// Progress implies the stream connected, even if the connected
		// signal has not been taken yet.
		_ = m.Step(Event{Type: EvConnected})
	}
	switch {
	case newScan:
		if err := m.Step(Event{Type: EvScanDone, Time: rt}); err != nil {
			m.LastError = err.Error()
		}
	case newProgress:
		if err := m.Step(Event{Type: EvProgress, Time: rt}); err != nil {
			m.LastError = err.Error()
		}
	}
	firstProgress := m.ScanDone && j.rec.ReaderTenantID != 0 && !j.rec.ReaderActivated
	if firstProgress {
		j.activateReader(ctx)
	}
	if m.Status != before || firstProgress {
		j.updateRetained(ctx)
		_ = j.persist(ctx, nil)
		return
	}
	// Publish the new replicated time with the status it goes with, so
	// that SHOW never pairs a replicated time with a stale status.
	j.publish()
}

// activateReader makes the read-only VC ready and shared on the first
// persisted replicated time (CONTRACT §4).
func (j *consumerJob) activateReader(ctx context.Context) {
	id := j.rec.ReaderTenantID
	activated := false
	err := j.c.cfg.Records.Update(ctx, id, func(r *tenant.Record) error {
		// A reader dropped (or changed) meanwhile is left alone.
		activated = r.DataState == tenant.DataStateAdd && r.ReadFrom == j.rec.TenantID
		if activated {
			r.DataState = tenant.DataStateReady
			r.ServiceMode = tenant.ServiceModeShared
		}
		return nil
	})
	if err != nil {
		return
	}
	j.rec.ReaderActivated = true
	if h := j.c.cfg.Hooks.ReaderActivated; activated && h != nil {
		h(ctx, id)
	}
}

// updateRetained moves the consumer's protection up to
// max(start, replicated − retention), capped at the failover time.
func (j *consumerJob) updateRetained(ctx context.Context) {
	m := &j.rec.Machine
	t := RetainedTimeFor(m.StartTime, m.ReplicatedTime, j.rec.Retention, m.FailoverTime, m.RetainedTime)
	if !m.RetainedTime.Less(t) {
		return
	}
	if err := j.c.cfg.Engine.Protect(ctx, kv.ProtectedTimestamp{ID: j.rec.PTSID, Span: tenantSpan(j.rec.TenantID), Timestamp: t}); err != nil {
		return
	}
	m.RetainedTime = t
	j.retained.Store(&t)
}

// stream runs one streaming session and reacts to it until the machine
// wants something else.
func (j *consumerJob) stream(ctx context.Context) {
	sctx, cancel := context.WithCancel(ctx)
	s := startSession(sctx, j)
	j.metrics.running.Store(true)
	hb := time.NewTicker(j.c.cfg.HeartbeatInterval)
	defer func() {
		hb.Stop()
		cancel()
		<-s.done
		j.prog = s.ing.prog
		j.metrics.running.Store(false)
		// Progress made in the session's last moments (durable, so it
		// counts whatever the machine does next).
		j.observeProgress(ctx)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			if ctx.Err() != nil {
				return
			}
			j.observeProgress(ctx)
			if j.rec.Machine.Next().Kind != ActStream {
				return
			}
			// A version mismatch (found by either side) pauses at once:
			// retrying cannot help until an operator upgrades a side.
			j.stepAndPersist(ctx, Event{Type: EvStreamError, Err: s.err, Permanent: IsVersionMismatch(s.err)})
			if h := j.c.cfg.Hooks.Paused; h != nil && j.rec.Machine.Status == StatusPaused {
				h(j.rec.TenantName, j.rec.Machine.LastError)
			}
			return
		case <-s.connected:
			s.connected = nil
			if j.rec.Machine.Status == StatusInitializing {
				j.stepAndPersist(ctx, Event{Type: EvConnected})
			}
		case <-j.nudge:
			j.observeProgress(ctx)
			if j.rec.Machine.Next().Kind != ActStream {
				return
			}
		case <-hb.C:
			before := j.rec.Machine.RetainedTime
			j.updateRetained(ctx)
			if before != j.rec.Machine.RetainedTime {
				_ = j.persist(ctx, nil)
			}
		case r := <-j.ctrl:
			j.handle(ctx, r)
			if j.rec.Machine.Next().Kind != ActStream {
				return
			}
		}
	}
}

// retryWait sleeps d or until ctx ends, answering user requests meanwhile;
// it reports whether the job should go on with what it was doing.
func (j *consumerJob) retryWait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	before := j.rec.Machine.Next()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case r := <-j.ctrl:
			j.handle(ctx, r)
			if j.rec.Machine.Next() != before {
				return false
			}
		}
	}
}

// checkCanAddReader refuses a second read-only VC for the job.
func (j *consumerJob) checkCanAddReader() error {
	if j.rec.Machine.Status.Terminal() || j.rec.Machine.Status == StatusFailingOver {
		return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"cannot add a read-only virtual cluster to tenant %q: replication is %s", j.rec.TenantName, j.rec.Machine.Status)
	}
	return nil
}

// createReaderRecord creates <name>-readonly (data state add, no service,
// reading this job's VC) in txn and records it in the job; the caller
// persists the job in the same transaction. A name already taken is
// CockroachDB's 42710 (the record store checks it).
func (j *consumerJob) createReaderRecord(txn *kv.Txn) error {
	ctx := context.Background()
	reader := &tenant.Record{Name: j.rec.TenantName + tenant.ReadOnlySuffix, DataState: tenant.DataStateAdd,
		ServiceMode: tenant.ServiceModeNone, ReadFrom: j.rec.TenantID}
	id, err := j.c.cfg.Records.Create(ctx, txn, reader)
	if err != nil {
		return err
	}
	j.rec.ReaderTenantID = id
	j.rec.ReaderActivated = false
	return nil
}
