package replication

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// DefaultRetention is how much history a standby keeps for failover to a
// past time (CRDB-PCR-FACTS §1.2: 4 h).
const DefaultRetention = 4 * time.Hour

// DefaultHeartbeatInterval is how often the consumer moves its own
// protection and heartbeats the producer ("every few seconds"; CockroachDB
// uses 30 s).
const DefaultHeartbeatInterval = 5 * time.Second

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Engine  *kv.Engine
	Records *tenant.Store
	// ClusterID identifies this physical cluster.
	ClusterID string
	// TenantVersion returns a VC's cluster version (its version setting);
	// the system VC's is this standby's version, sent to the source in
	// every start request, partition spec and heartbeat and checked
	// against the source VC's (versions.go). Nil: versions are unknown and
	// not checked.
	TenantVersion func(ctx context.Context, id tenant.ID) (tenant.Version, error)
	// MaxFraming is the newest stream framing this consumer announces; 0
	// means SupportedFraming() (tests set FramingV1 to act as a 25.1
	// binary).
	MaxFraming byte
	// Producer is this cluster's own producer: after a failover it holds
	// the retention job, and failback checks its history.
	Producer *Producer
	// Dial opens a Source from a stored URI.
	Dial Dialer

	// HeartbeatInterval: 0 means DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// Retry: zero means DefaultRetryPolicy.
	Retry RetryPolicy
	// FlushBytes is the streaming buffer that forces a flush even between
	// checkpoints; 0 means 8 MiB.
	FlushBytes int
	// ScanBatchBytes is the size of each SSTable of the initial scan; 0
	// means 64 MiB.
	ScanBatchBytes int
	// RevertChunkKeys is the number of keys reverted between progress
	// checkpoints; 0 means 10000.
	RevertChunkKeys int
	// SourceCompleteTimeout bounds the best-effort completion message to
	// the source after a failover or cancel; 0 means 10 s.
	SourceCompleteTimeout time.Duration

	Hooks ConsumerHooks
	// Knobs are for tests only.
	Knobs ConsumerKnobs
}

// ConsumerKnobs change the consumer's behaviour in tests.
type ConsumerKnobs struct {
	// AfterRevertChunk is called after each reverted and recorded chunk
	// with the number of chunks this revert call has done; an error stops
	// the revert there (as a crash would).
	AfterRevertChunk func(chunks int) error
}

// ConsumerHooks connect the consumer to the layers above it. All are
// optional.
type ConsumerHooks struct {
	// ReaderActivated is called after a read-only VC's record became
	// ready/shared (the server then starts its SQL service).
	ReaderActivated func(ctx context.Context, readerID tenant.ID)
	// DropReader drops a read-only VC; called after a failover to a past
	// time (CONTRACT §4: the reader is dropped; after LATEST it stays),
	// once for every live VC that reads the failed-over VC, whichever job
	// created it.
	DropReader func(ctx context.Context, readerID tenant.ID) error
	// Paused is told that a job paused by itself (a version mismatch, or
	// the retries of a failing stream ran out) and why, so that the
	// reason reaches the node's log; it must not block.
	Paused func(vcName string, reason string)
}

func (c *ConsumerConfig) setDefaults() {
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.Retry.InitialBackoff <= 0 {
		c.Retry = DefaultRetryPolicy
	}
	if c.FlushBytes <= 0 {
		c.FlushBytes = 8 << 20
	}
	if c.ScanBatchBytes <= 0 {
		c.ScanBatchBytes = 64 << 20
	}
	if c.RevertChunkKeys <= 0 {
		c.RevertChunkKeys = 10000
	}
	if c.SourceCompleteTimeout <= 0 {
		c.SourceCompleteTimeout = 10 * time.Second
	}
}

// Consumer is the standby side of replication: it creates consumer jobs,
// runs one goroutine per live job, and answers the SQL layer's requests
// (pause, resume, failover, retention, cancel, status, metrics).
//
// Goroutines: Start resumes every live job, each in a goroutine of its own
// (consumer_job.go) that owns the job's record and state machine; user
// requests reach it through a channel. Close stops them all and waits;
// their jobs resume at the next Start.
type Consumer struct {
	cfg    ConsumerConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		started, closed bool
		jobs            map[int64]*consumerJob
	}
}

// NewConsumer returns a consumer; Start resumes its persisted jobs.
func NewConsumer(cfg ConsumerConfig) *Consumer {
	cfg.setDefaults()
	c := &Consumer{cfg: cfg}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.mu.jobs = make(map[int64]*consumerJob)
	return c
}

// Start resumes every persisted live consumer job and finishes the clean-up
// of ended ones (a protection left behind by a crash is released).
func (c *Consumer) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.mu.started || c.mu.closed {
		c.mu.Unlock()
		return errors.New("replication: consumer already started or closed")
	}
	c.mu.started = true
	c.mu.Unlock()
	jobs, err := c.Jobs(ctx)
	if err != nil {
		return err
	}
	for _, rec := range jobs {
		if rec.Machine.Status.Terminal() {
			if err := c.cfg.Engine.Unprotect(ctx, rec.PTSID); err != nil {
				return err
			}
			continue
		}
		if err := c.startJob(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}

// Close stops every job goroutine and waits for them. Jobs keep their
// persisted state.
func (c *Consumer) Close() {
	c.mu.Lock()
	c.mu.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

// wallNow is the wall time of job records' times: the cluster's HLC,
// which never runs backwards across restarts.
func (c *Consumer) wallNow() int64 { return c.cfg.Engine.Now().WallTime }

func (c *Consumer) ptsID(jobID int64) string { return fmt.Sprintf("replication-consumer-%d", jobID) }

// Jobs returns every consumer job record, in id order.
func (c *Consumer) Jobs(ctx context.Context) ([]*ConsumerJob, error) {
	var out []*ConsumerJob
	err := tenant.RunTxn(ctx, c.cfg.Engine, func(txn *kv.Txn) error {
		var err error
		out, err = scanJSON[ConsumerJob](ctx, txn, keyConsumer)
		return err
	})
	return out, err
}

// Job returns a consumer job's record as persisted.
func (c *Consumer) Job(ctx context.Context, id int64) (*ConsumerJob, error) {
	var rec ConsumerJob
	var found bool
	err := tenant.RunTxn(ctx, c.cfg.Engine, func(txn *kv.Txn) error {
		var err error
		found, err = getJSON(ctx, txn, jobKey(keyConsumer, id), &rec)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, pgerror.Newf(pgcode.UndefinedObject, "replication job %d does not exist", id)
	}
	return &rec, nil
}

func (c *Consumer) startJob(ctx context.Context, rec *ConsumerJob) error {
	prog, err := readProgress(ctx, c.cfg.Engine, rec.ID)
	if err != nil {
		return err
	}
	// The progress register is authoritative for what is durable; the
	// record's copy may trail it.
	if rec.Machine.ReplicatedTime.Less(prog.ReplicatedTime) {
		rec.Machine.ReplicatedTime = prog.ReplicatedTime
	}
	rec.Machine.ScanDone = rec.Machine.ScanDone || prog.ScanDone
	rec.Machine.Policy = c.cfg.Retry
	j := newConsumerJob(c, rec, prog)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return errors.New("replication: consumer closed")
	}
	c.mu.jobs[rec.ID] = j
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		j.run(c.ctx)
	}()
	return nil
}

func (c *Consumer) job(id int64) *consumerJob {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.jobs[id]
}

func (c *Consumer) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.mu.jobs, id)
}

// CreateRequest is CREATE VIRTUAL CLUSTER <TenantName> FROM REPLICATION OF
// <SourceTenantName> ON <SourceURI> [WITH READ VIRTUAL CLUSTER | RETENTION].
type CreateRequest struct {
	TenantName       string
	SourceTenantName string
	// SourceURI is stored and passed to the Dialer (after a restart too);
	// it is shown only redacted.
	SourceURI string
	// Retention: 0 means DefaultRetention.
	Retention time.Duration
	// ReadOnly also creates <TenantName>-readonly.
	ReadOnly bool
	// Description (the statement, secrets redacted) and User (who ran
	// it) are kept for SHOW JOBS.
	Description string
	User        string
}

// Create validates the source synchronously (an error from the source,
// such as bad credentials or an unknown source VC, fails the statement and
// creates nothing), then creates, in one transaction, the VC record (data
// state add), the reader VC record if asked, and the consumer job, protects
// the new VC's span at the start time, and starts the job. It returns the
// job id.
func (c *Consumer) Create(ctx context.Context, req CreateRequest) (int64, error) {
	if req.TenantName == tenant.SystemName {
		return 0, pgerror.Newf(pgcode.InvalidParameterValue,
			"the destination tenant %q (%d) cannot be the system tenant", tenant.SystemName, tenant.SystemID)
	}
	if err := tenant.CheckName(req.TenantName); err != nil {
		return 0, err
	}
	if err := checkRetention(req.Retention); err != nil {
		return 0, err
	}
	if req.Retention == 0 {
		req.Retention = DefaultRetention
	}
	if err := c.checkNameFree(ctx, req.TenantName); err != nil {
		return 0, err
	}
	if req.ReadOnly {
		if err := c.checkNameFree(ctx, req.TenantName+tenant.ReadOnlySuffix); err != nil {
			return 0, err
		}
	}
	own, err := c.version(ctx)
	if err != nil {
		return 0, err
	}
	src, err := c.cfg.Dial(ctx, req.SourceURI)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	spec, err := src.StartStream(ctx, req.SourceTenantName, StartRequest{
		ConsumerClusterID: c.cfg.ClusterID, ConsumerVersion: own.String(), MaxFraming: c.maxFraming(),
	})
	if err != nil {
		return 0, err
	}
	id, err := c.createJob(ctx, src, spec, req, nil)
	if err != nil {
		c.abandonStream(src, spec.StreamID)
		return 0, err
	}
	return id, nil
}

// abandonStream tells the source to end a stream the standby will not use.
func (c *Consumer) abandonStream(src Source, streamID int64) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.SourceCompleteTimeout)
	defer cancel()
	_ = src.Complete(ctx, streamID, false)
}

func (c *Consumer) checkNameFree(ctx context.Context, name string) error {
	_, err := c.cfg.Records.GetByName(ctx, nil, name)
	if err == nil {
		return pgerror.Newf(pgcode.DuplicateObject, "tenant with name %q already exists", name)
	}
	if pgerror.GetPGCode(err) == pgcode.UndefinedObject {
		return nil
	}
	return err
}

func checkRetention(d time.Duration) error {
	if d < 0 || d.Seconds() > 2147483647 || d%time.Second != 0 {
		return pgerror.New(pgcode.InvalidParameterValue,
			"retention should result in a number of seconds between 0 and 2147483647")
	}
	return nil
}

// failbackTarget is the existing VC a failback job replicates into.
type failbackTarget struct {
	rec        *tenant.Record
	resumeTime kv.Timestamp
}

// createJob writes the records of a new consumer job and starts it. For a
// failback, fb names the existing VC and the divergence time.
func (c *Consumer) createJob(ctx context.Context, src Source, spec StreamSpec, req CreateRequest, fb *failbackTarget) (int64, error) {
	own, err := c.version(ctx)
	if err != nil {
		return 0, err
	}
	if err := checkVersionStrings(spec.SourceVersion, own.String()); err != nil {
		return 0, errors.Wrapf(err, "cannot replicate virtual cluster %q into %q", spec.SourceTenantName, req.TenantName)
	}
	var jobID int64
	if err := tenant.RunTxn(ctx, c.cfg.Engine, func(txn *kv.Txn) error {
		var err error
		jobID, err = allocJobID(ctx, txn)
		return err
	}); err != nil {
		return 0, err
	}
	rec := &ConsumerJob{
		ID: jobID, TenantName: req.TenantName,
		SourceURI: req.SourceURI, SourceTenantName: spec.SourceTenantName,
		SourceTenantID: spec.SourceTenantID, SourceClusterID: spec.SourceClusterID,
		StreamID: spec.StreamID, Retention: req.Retention, PTSID: c.ptsID(jobID),
		Description: req.Description, User: req.User,
		Machine: Machine{
			Status: StatusInitializing, StartTime: spec.StartTime, RetainedTime: spec.StartTime,
		},
	}
	var prog consumerProgress
	if fb != nil {
		rec.Failback = true
		rec.Machine.ScanDone = true
		rec.Machine.ReplicatedTime = fb.resumeTime
		rec.Machine.RevertFirst = fb.resumeTime
		// Until the revert finishes, anything may lie above the
		// divergence time.
		prog = consumerProgress{ReplicatedTime: fb.resumeTime, ScanDone: true, MaxWritten: kv.MaxTimestamp}
		if err := writeProgress(ctx, c.cfg.Engine, jobID, &prog); err != nil {
			return 0, err
		}
	}
	err = tenant.RunTxn(ctx, c.cfg.Engine, func(txn *kv.Txn) error {
		var vc *tenant.Record
		if fb == nil {
			vc = &tenant.Record{Name: req.TenantName, DataState: tenant.DataStateAdd, ServiceMode: tenant.ServiceModeNone}
			if _, err := c.cfg.Records.Create(ctx, txn, vc); err != nil {
				return err
			}
		} else {
			var err error
			if vc, err = c.cfg.Records.Get(ctx, txn, fb.rec.ID); err != nil {
				return err
			}
			if err := checkFailbackTarget(vc); err != nil {
				return err
			}
			vc.DataState = tenant.DataStateAdd
		}
		vc.ConsumerJobID = jobID
		if err := c.cfg.Records.Put(ctx, txn, vc); err != nil {
			return err
		}
		rec.TenantID = vc.ID
		rec.ReaderTenantID = 0
		if req.ReadOnly {
			reader := &tenant.Record{Name: req.TenantName + tenant.ReadOnlySuffix, DataState: tenant.DataStateAdd,
				ServiceMode: tenant.ServiceModeNone, ReadFrom: vc.ID}
			id, err := c.cfg.Records.Create(ctx, txn, reader)
			if err != nil {
				return err
			}
			rec.ReaderTenantID = id
		}
		rec.touch(c.wallNow(), false)
		return putJSON(txn, jobKey(keyConsumer, jobID), rec)
	})
	if err != nil {
		return 0, err
	}
	if err := c.cfg.Engine.Protect(ctx, kv.ProtectedTimestamp{ID: rec.PTSID, Span: tenantSpan(rec.TenantID), Timestamp: rec.Machine.RetainedTime}); err != nil {
		// The records exist; cancel the job so that nothing runs, and
		// report why.
		c.markCancelled(ctx, rec)
		return 0, errors.Wrap(err, "replication: protecting the destination span")
	}
	if err := c.startJob(ctx, rec); err != nil {
		return 0, err
	}
	return jobID, nil
}

func (c *Consumer) markCancelled(ctx context.Context, rec *ConsumerJob) {
	rec.Machine.Status = StatusCancelled
	rec.touch(c.wallNow(), true)
	_ = tenant.RunTxn(ctx, c.cfg.Engine, func(txn *kv.Txn) error {
		return putJSON(txn, jobKey(keyConsumer, rec.ID), rec)
	})
}

// activeJob returns the running job of the VC named name, or the contract's
// error for a VC without one.
func (c *Consumer) activeJob(ctx context.Context, name string) (*consumerJob, error) {
	rec, err := c.cfg.Records.GetByName(ctx, nil, name)
	if err != nil {
		return nil, err
	}
	var j *consumerJob
	if rec.ConsumerJobID != 0 {
		j = c.job(rec.ConsumerJobID)
	}
	if j == nil {
		return nil, pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"tenant %q (%d) does not have an active replication consumer job", rec.Name, rec.ID)
	}
	return j, nil
}

// Pause is ALTER VIRTUAL CLUSTER name PAUSE REPLICATION.
func (c *Consumer) Pause(ctx context.Context, name string) error {
	j, err := c.activeJob(ctx, name)
	if err != nil {
		return err
	}
	_, err = j.request(ctx, ctrlReq{ev: Event{Type: EvPause}})
	return err
}

// Resume is ALTER VIRTUAL CLUSTER name RESUME REPLICATION. A paused job
// is first checked against the source's version now: when the versions
// do not allow the stream (the source finalized past this standby), the
// statement fails with the 55000 refusal and the job stays paused.
func (c *Consumer) Resume(ctx context.Context, name string) error {
	j, err := c.activeJob(ctx, name)
	if err != nil {
		return err
	}
	if rec := j.published.Load(); rec.Machine.Status == StatusPaused {
		if err := c.checkResumeVersions(ctx, rec); err != nil {
			return err
		}
	}
	_, err = j.request(ctx, ctrlReq{ev: Event{Type: EvResume}})
	return err
}

// checkResumeVersions asks the source (one heartbeat, bounded by
// SourceCompleteTimeout) for its VC's version and applies the version
// rule. An unreachable source is not an error here: the resumed job
// retries, and checks again before it streams.
func (c *Consumer) checkResumeVersions(ctx context.Context, rec *ConsumerJob) error {
	own, err := c.version(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.SourceCompleteTimeout)
	defer cancel()
	src, err := c.cfg.Dial(ctx, rec.SourceURI)
	if err != nil {
		return nil
	}
	defer src.Close()
	st, err := src.Heartbeat(ctx, rec.StreamID, HeartbeatRequest{RetainedTime: rec.Machine.RetainedTime, ConsumerVersion: own.String()})
	if err != nil {
		return nil
	}
	if err := checkVersionStrings(st.SourceVersion, own.String()); err != nil {
		return errors.Wrapf(err, "cannot resume replication of virtual cluster %q", rec.TenantName)
	}
	return nil
}

// FailoverTarget is the argument of COMPLETE REPLICATION: LATEST, or a
// time (the SQL layer evaluates the expression, intervals included).
type FailoverTarget struct {
	Latest bool
	Time   kv.Timestamp
}

// Complete is ALTER VIRTUAL CLUSTER name COMPLETE REPLICATION TO ...: it
// records the failover time and returns it (the statement's one row). The
// time must be at or above the retained time; a time above the replicated
// time waits in "replication pending failover" and can be changed by
// another Complete until the revert starts. The failover itself runs in the
// job; WaitForJob waits for it.
func (c *Consumer) Complete(ctx context.Context, name string, target FailoverTarget) (kv.Timestamp, error) {
	j, err := c.activeJob(ctx, name)
	if err != nil {
		return kv.Timestamp{}, err
	}
	return j.request(ctx, ctrlReq{ev: Event{Type: EvFailover, Latest: target.Latest, Time: target.Time}})
}

// SetRetention is ALTER VIRTUAL CLUSTER name SET REPLICATION RETENTION = d.
func (c *Consumer) SetRetention(ctx context.Context, name string, d time.Duration) error {
	if err := checkRetention(d); err != nil {
		return err
	}
	j, err := c.activeJob(ctx, name)
	if err != nil {
		return err
	}
	_, err = j.request(ctx, ctrlReq{setRetention: true, retention: d})
	return err
}

// AddReader is ALTER VIRTUAL CLUSTER name SET REPLICATION READ VIRTUAL
// CLUSTER: it creates name-readonly for a running replication (42710 when
// that name is taken), activated at once when a replicated time exists,
// else at the first one.
func (c *Consumer) AddReader(ctx context.Context, name string) error {
	if err := c.checkNameFree(ctx, name+tenant.ReadOnlySuffix); err != nil {
		return err
	}
	j, err := c.activeJob(ctx, name)
	if err != nil {
		return err
	}
	_, err = j.request(ctx, ctrlReq{addReader: true})
	return err
}

// Cancel cancels the consumer job of VC id (DROP VIRTUAL CLUSTER): the job
// stops, releases its protection and tells the source (best effort) to end
// its producer job. The VC's record and data are the caller's. A VC
// without a running job is not an error.
func (c *Consumer) Cancel(ctx context.Context, id tenant.ID) error {
	rec, err := c.cfg.Records.Get(ctx, nil, id)
	if err != nil {
		return err
	}
	if rec.ConsumerJobID == 0 {
		return nil
	}
	j := c.job(rec.ConsumerJobID)
	if j == nil {
		return nil
	}
	if _, err := j.request(ctx, ctrlReq{ev: Event{Type: EvCancel}}); err != nil {
		return err
	}
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitForJob waits until the job's goroutine has ended (failover complete,
// cancelled, or the consumer closed) and returns its final record.
func (c *Consumer) WaitForJob(ctx context.Context, id int64) (*ConsumerJob, error) {
	if j := c.job(id); j != nil {
		select {
		case <-j.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.Job(ctx, id)
}
