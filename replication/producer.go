package replication

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// DefaultExpirationWindow is how long a producer job outlives its last
// heartbeat (CRDB-PCR-FACTS §5.2: 24 h).
const DefaultExpirationWindow = 24 * time.Hour

// DefaultFrameBytes is the target size of a frame of events (~1 MB), large
// enough that per-row overhead vanishes during an initial scan and small
// enough that the consumer's first byte arrives promptly.
const DefaultFrameBytes = 1 << 20

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	Engine  *kv.Engine
	Records *tenant.Store
	// ClusterID identifies this physical cluster (tenant.MetaCluster).
	ClusterID string
	// ExpirationWindow is the default window of new producer jobs; 0 means
	// DefaultExpirationWindow.
	ExpirationWindow time.Duration
	// JanitorInterval is how often expired jobs are ended; 0 means a minute.
	JanitorInterval time.Duration
	// FrameBytes is the target frame size; 0 means DefaultFrameBytes.
	FrameBytes int
	// TenantVersion, if set, returns a VC's cluster version: the source
	// VC's version travels in the stream spec and heartbeats and gates the
	// framing (versions.go). Nil: unknown, framing v1.
	TenantVersion func(ctx context.Context, id tenant.ID) (tenant.Version, error)
	// VersionKey is the key, without the tenant prefix, under which a VC
	// stores its cluster version (the SQL layer's version setting, whose
	// value is the version text). When set, the producer looks at every
	// version of it it streams: a value the consumer cannot run ends the
	// stream before it is sent (so a standby never receives a VC version
	// its system VC does not support), and a value that allows framing v2
	// switches to it from the next frame. Nil: only the periodic check.
	VersionKey []byte
	// VersionCheckInterval bounds how often a running partition stream
	// re-reads the source VC's version and the consumer's (a switch to
	// framing v2, or a mismatch that ends the stream); 0 means a second.
	VersionCheckInterval time.Duration
	// Now returns wall time (tests); nil means time.Now.
	Now func() time.Time
}

// Producer is the source side of replication: it starts streams, serves
// partitions, takes heartbeats and completes streams, each as one method
// that a crdb_internal builtin calls with exactly its SQL arguments.
//
// Goroutines: Start runs one janitor goroutine, stopped by Close. A
// StreamPartition call runs in its caller's goroutine (plus the kv
// subscription's own) and returns when its context ends, when the stream is
// completed or expires, or on error.
type Producer struct {
	cfg ProducerConfig

	mu struct {
		sync.Mutex
		// active maps stream ids to the cancel functions of running
		// StreamPartition calls, so completion and expiry end them.
		active map[int64]map[*int]context.CancelFunc
	}
	// life guards the janitor's start and stop.
	life struct {
		sync.Mutex
		started, closed bool
	}
	stop    chan struct{}
	stopped chan struct{}
}

// NewProducer returns a producer; call Start to run its janitor.
func NewProducer(cfg ProducerConfig) *Producer {
	if cfg.ExpirationWindow <= 0 {
		cfg.ExpirationWindow = DefaultExpirationWindow
	}
	if cfg.JanitorInterval <= 0 {
		cfg.JanitorInterval = time.Minute
	}
	if cfg.FrameBytes <= 0 {
		cfg.FrameBytes = DefaultFrameBytes
	}
	if cfg.VersionCheckInterval <= 0 {
		cfg.VersionCheckInterval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Producer{cfg: cfg, stop: make(chan struct{}), stopped: make(chan struct{})}
	p.mu.active = make(map[int64]map[*int]context.CancelFunc)
	return p
}

// Start runs the janitor that ends expired producer jobs.
func (p *Producer) Start() {
	p.life.Lock()
	defer p.life.Unlock()
	if p.life.started || p.life.closed {
		return
	}
	p.life.started = true
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(p.cfg.JanitorInterval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				_, _ = p.ExpireJobs(context.Background())
			}
		}
	}()
}

// Close stops the janitor (if started) and waits for it.
func (p *Producer) Close() {
	p.life.Lock()
	defer p.life.Unlock()
	if p.life.closed {
		return
	}
	p.life.closed = true
	close(p.stop)
	if p.life.started {
		<-p.stopped
	}
}

func (p *Producer) ptsID(jobID int64) string { return fmt.Sprintf("replication-producer-%d", jobID) }

// StartReplicationStream is crdb_internal.start_replication_stream: it
// creates a producer job for the VC named tenantName, picks the start time
// (now, or the request's resume time for a failback), protects the VC's span
// from GC at it and returns the encoded StreamSpec.
func (p *Producer) StartReplicationStream(ctx context.Context, tenantName string, req []byte) ([]byte, error) {
	return p.StartReplicationStreamAs(ctx, "", tenantName, req)
}

// StartReplicationStreamAs is StartReplicationStream run by user (the
// session's user, recorded in the job for SHOW JOBS).
func (p *Producer) StartReplicationStreamAs(ctx context.Context, user, tenantName string, req []byte) ([]byte, error) {
	r, err := DecodeStartRequest(req)
	if err != nil {
		return nil, pgerror.WithCandidateCode(err, pgcode.InvalidParameterValue)
	}
	spec, err := p.startStream(ctx, user, tenantName, r)
	if err != nil {
		return nil, err
	}
	return spec.Encode(), nil
}

func (p *Producer) startStream(ctx context.Context, user, tenantName string, r StartRequest) (StreamSpec, error) {
	rec, err := p.cfg.Records.GetByName(ctx, nil, tenantName)
	if err != nil {
		return StreamSpec{}, err
	}
	if rec.IsSystem() {
		return StreamSpec{}, pgerror.Newf(pgcode.FeatureNotSupported,
			"replicating the system virtual cluster is not supported")
	}
	if rec.DataState != tenant.DataStateReady {
		return StreamSpec{}, pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"cannot replicate from tenant %q (%d) in data state %s", rec.Name, rec.ID, rec.DataState)
	}
	if r.ExpectPriorSource {
		if err := checkPriorSource(rec, r); err != nil {
			return StreamSpec{}, err
		}
	}
	start := r.ResumeTime
	if start.IsEmpty() {
		start = p.cfg.Engine.Now()
	}
	now := p.cfg.Now()
	job := &ProducerJob{
		Kind: ProducerKindStream, TenantID: rec.ID, TenantName: rec.Name,
		ConsumerClusterID: r.ConsumerClusterID, ConsumerTenantID: r.ConsumerTenantID,
		ConsumerVersion: r.ConsumerVersion, ConsumerMaxFraming: r.MaxFraming,
		StartTime: start, ProtectedTime: start,
		ExpirationWindow: p.cfg.ExpirationWindow,
		ExpiresAt:        now.Add(p.cfg.ExpirationWindow).UnixNano(),
		Status:           ProducerRunning,
		User:             user,
	}
	if err := p.createJob(ctx, job); err != nil {
		if kv.IsBelowGCThreshold(err) && !r.ResumeTime.IsEmpty() {
			return StreamSpec{}, pgerror.Wrapf(err, pgcode.ObjectNotInPrerequisiteState,
				"cannot resume replication of tenant %q at %s: history is no longer retained", rec.Name, start)
		}
		return StreamSpec{}, err
	}
	spec := StreamSpec{
		StreamID: job.ID, SourceTenantID: rec.ID, SourceTenantName: rec.Name,
		SourceClusterID: p.cfg.ClusterID, StartTime: start, FramingVersion: MaxFramingVersion,
	}
	v, err := p.tenantVersion(ctx, rec.ID)
	if err != nil {
		return StreamSpec{}, err
	}
	spec.SourceVersion = v.String()
	return spec, nil
}

// checkPriorSource verifies that the source VC was replicated from the
// requesting VC (CRDB-PCR-FACTS §3.2).
func checkPriorSource(rec *tenant.Record, r StartRequest) error {
	if rec.Prior == nil {
		return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"tenant %q was never replicated from another cluster", rec.Name)
	}
	if rec.Prior.SourceClusterID != r.ConsumerClusterID {
		return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"requesting cluster ID %s does not match previous source cluster ID %s",
			r.ConsumerClusterID, rec.Prior.SourceClusterID)
	}
	if rec.Prior.SourceTenantID != r.ConsumerTenantID {
		return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"requesting tenant ID %d does not match previous source tenant ID %d",
			r.ConsumerTenantID, rec.Prior.SourceTenantID)
	}
	return nil
}

// createJob allocates the job's id, writes it and then protects its span.
// The record comes first so that a crash cannot leave a protection nobody
// owns; a record without protection is ended by the janitor at expiry.
func (p *Producer) createJob(ctx context.Context, job *ProducerJob) error {
	err := tenant.RunTxn(ctx, p.cfg.Engine, func(txn *kv.Txn) error {
		id, err := allocJobID(ctx, txn)
		if err != nil {
			return err
		}
		job.ID = id
		job.PTSID = p.ptsID(id)
		job.touch(p.cfg.Now().UnixNano(), false)
		return putJSON(txn, jobKey(keyProducer, id), job)
	})
	if err != nil {
		return err
	}
	perr := p.cfg.Engine.Protect(ctx, kv.ProtectedTimestamp{ID: job.PTSID, Span: tenantSpan(job.TenantID), Timestamp: job.ProtectedTime})
	if perr != nil {
		_ = p.updateJob(ctx, job.ID, func(j *ProducerJob) error {
			j.Status = ProducerFailed
			return nil
		})
		return perr
	}
	return nil
}

// CreateRetentionJob makes the post-failover retention job on a promoted
// VC: a producer job without a stream whose protection at ts (the failover
// time) lets the original primary fail back without a full copy.
func (p *Producer) CreateRetentionJob(ctx context.Context, id tenant.ID, name string, ts kv.Timestamp) (int64, error) {
	job := &ProducerJob{
		Kind: ProducerKindRetention, TenantID: id, TenantName: name,
		StartTime: ts, ProtectedTime: ts,
		ExpirationWindow: p.cfg.ExpirationWindow,
		ExpiresAt:        p.cfg.Now().Add(p.cfg.ExpirationWindow).UnixNano(),
		Status:           ProducerRetaining,
	}
	if err := p.createJob(ctx, job); err != nil {
		return 0, err
	}
	return job.ID, nil
}

// Job returns a producer job's record.
func (p *Producer) Job(ctx context.Context, id int64) (*ProducerJob, error) {
	var j ProducerJob
	var found bool
	err := tenant.RunTxn(ctx, p.cfg.Engine, func(txn *kv.Txn) error {
		var err error
		found, err = getJSON(ctx, txn, jobKey(keyProducer, id), &j)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, pgerror.Newf(pgcode.UndefinedObject, "replication stream %d does not exist", id)
	}
	return &j, nil
}

// Jobs returns every producer job, in id order.
func (p *Producer) Jobs(ctx context.Context) ([]*ProducerJob, error) {
	var out []*ProducerJob
	err := tenant.RunTxn(ctx, p.cfg.Engine, func(txn *kv.Txn) error {
		var err error
		out, err = scanJSON[ProducerJob](ctx, txn, keyProducer)
		return err
	})
	return out, err
}

func (p *Producer) updateJob(ctx context.Context, id int64, fn func(*ProducerJob) error) error {
	return tenant.RunTxn(ctx, p.cfg.Engine, func(txn *kv.Txn) error {
		var j ProducerJob
		found, err := getJSON(ctx, txn, jobKey(keyProducer, id), &j)
		if err != nil {
			return err
		}
		if !found {
			return pgerror.Newf(pgcode.UndefinedObject, "replication stream %d does not exist", id)
		}
		if err := fn(&j); err != nil {
			return err
		}
		j.touch(p.cfg.Now().UnixNano(), j.Status == ProducerFailed || j.Status == ProducerExpired)
		return putJSON(txn, jobKey(keyProducer, id), &j)
	})
}

func notRunning(j *ProducerJob) error {
	return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
		"replication stream %d is not running (status %s)", j.ID, j.Status)
}

// HeartbeatReplicationStream is crdb_internal.replication_stream_heartbeat:
// it moves the protection up (never down) to the consumer's retained time,
// records the consumer's version, extends the expiration and returns the
// encoded StreamStatus with the source VC's version. A stream that is no
// longer running answers with its status rather than an error, so the
// consumer learns why. req is an encoded HeartbeatRequest (or a bare
// retained time).
func (p *Producer) HeartbeatReplicationStream(ctx context.Context, streamID int64, req string) ([]byte, error) {
	r, err := DecodeHeartbeatRequest(req)
	if err != nil {
		return nil, pgerror.WithCandidateCode(err, pgcode.InvalidParameterValue)
	}
	if _, err := parseVersion(r.ConsumerVersion); err != nil {
		return nil, err
	}
	st, err := p.heartbeat(ctx, streamID, r.RetainedTime, r.ConsumerVersion)
	if err != nil {
		return nil, err
	}
	return st.Encode(), nil
}

func (p *Producer) heartbeat(ctx context.Context, streamID int64, retained kv.Timestamp, consumerVersion string) (StreamStatus, error) {
	j, err := p.Job(ctx, streamID)
	if err != nil {
		return StreamStatus{}, err
	}
	if j.Status == ProducerRunning && j.ProtectedTime.Less(retained) {
		// Protect before recording: the record may only claim a protection
		// that is in force.
		if err := p.cfg.Engine.Protect(ctx, kv.ProtectedTimestamp{ID: j.PTSID, Span: tenantSpan(j.TenantID), Timestamp: retained}); err != nil {
			return StreamStatus{}, err
		}
	}
	var out ProducerJob
	err = p.updateJob(ctx, streamID, func(j *ProducerJob) error {
		if j.Status == ProducerRunning {
			if j.ProtectedTime.Less(retained) {
				j.ProtectedTime = retained
			}
			if consumerVersion != "" {
				j.ConsumerVersion = consumerVersion
			}
			j.ExpiresAt = p.cfg.Now().Add(j.ExpirationWindow).UnixNano()
		}
		out = *j
		return nil
	})
	if err != nil {
		return StreamStatus{}, err
	}
	if !out.holdsProtection() {
		// A completion or expiry raced with this heartbeat's Protect and
		// released the protection first; release it again.
		if err := p.cfg.Engine.Unprotect(ctx, out.PTSID); err != nil {
			return StreamStatus{}, err
		}
	}
	v, err := p.tenantVersion(ctx, out.TenantID)
	if err != nil {
		return StreamStatus{}, err
	}
	return StreamStatus{Status: out.Status, ProtectedTime: out.ProtectedTime, ExpiresAt: out.ExpiresAt, SourceVersion: v.String()}, nil
}

// CompleteReplicationStream is crdb_internal.complete_replication_stream.
// Successful (the standby failed over): the job keeps its protection until
// it expires, so that a failback can revert to the divergence time.
// Unsuccessful (the standby dropped the stream): the protection is released
// now. Either way running partitions of the stream end.
func (p *Producer) CompleteReplicationStream(ctx context.Context, streamID int64, successful bool) error {
	var release bool
	var ptsID string
	err := p.updateJob(ctx, streamID, func(j *ProducerJob) error {
		ptsID = j.PTSID
		release = false
		if j.Status != ProducerRunning {
			return nil
		}
		if successful {
			j.Status = ProducerRetaining
			j.ExpiresAt = p.cfg.Now().Add(j.ExpirationWindow).UnixNano()
		} else {
			j.Status = ProducerFailed
			release = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.cancelStreams(streamID)
	if release {
		return p.cfg.Engine.Unprotect(ctx, ptsID)
	}
	return nil
}

// ExpireJobs ends every running or retaining job whose expiration passed
// and releases its protection; it returns the ids ended. The janitor calls
// it periodically; tests call it directly.
func (p *Producer) ExpireJobs(ctx context.Context) ([]int64, error) {
	jobs, err := p.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	now := p.cfg.Now().UnixNano()
	var ended []int64
	// Release protections whose job no longer holds one (a crash between
	// a status change and the release).
	held := map[string]bool{}
	for _, pts := range p.cfg.Engine.ProtectedTimestamps() {
		held[pts.ID] = true
	}
	for _, j := range jobs {
		if !j.holdsProtection() && held[j.PTSID] {
			if err := p.cfg.Engine.Unprotect(ctx, j.PTSID); err != nil {
				return ended, err
			}
		}
	}
	for _, j := range jobs {
		if !j.holdsProtection() || j.ExpiresAt > now {
			continue
		}
		var expired bool
		err := p.updateJob(ctx, j.ID, func(j *ProducerJob) error {
			expired = j.holdsProtection() && j.ExpiresAt <= now
			if expired {
				j.Status = ProducerExpired
			}
			return nil
		})
		if err != nil {
			return ended, err
		}
		if !expired {
			continue
		}
		p.cancelStreams(j.ID)
		if err := p.cfg.Engine.Unprotect(ctx, j.PTSID); err != nil {
			return ended, err
		}
		ended = append(ended, j.ID)
	}
	return ended, nil
}

// SetExpirationWindow is ALTER VIRTUAL CLUSTER x SET REPLICATION SOURCE
// EXPIRATION WINDOW = d: every live producer job of the VC gets window d,
// and its current expiration moves by the difference.
func (p *Producer) SetExpirationWindow(ctx context.Context, tenantName string, window time.Duration) error {
	if window <= 0 {
		return pgerror.Newf(pgcode.InvalidParameterValue, "expiration window must be positive")
	}
	rec, err := p.cfg.Records.GetByName(ctx, nil, tenantName)
	if err != nil {
		return err
	}
	jobs, err := p.Jobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.TenantID != rec.ID || !j.holdsProtection() {
			continue
		}
		if err := p.updateJob(ctx, j.ID, func(j *ProducerJob) error {
			j.ExpiresAt += int64(window - j.ExpirationWindow)
			j.ExpirationWindow = window
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// ReplicationPriorDetails is crdb_internal.replication_prior_details: who
// the VC is and where its data came from, for failback checks.
func (p *Producer) ReplicationPriorDetails(ctx context.Context, tenantName string) ([]byte, error) {
	d, err := p.priorDetails(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	return d.Encode(), nil
}

func (p *Producer) priorDetails(ctx context.Context, tenantName string) (PriorDetails, error) {
	rec, err := p.cfg.Records.GetByName(ctx, nil, tenantName)
	if err != nil {
		return PriorDetails{}, err
	}
	return PriorDetails{ClusterID: p.cfg.ClusterID, TenantID: rec.ID, TenantName: rec.Name, Prior: rec.Prior}, nil
}

// RetainedHistory reports the oldest protection held by the VC's producer
// jobs (empty if none) and how many jobs hold none; failback checks that
// history back to the divergence time still exists.
func (p *Producer) RetainedHistory(ctx context.Context, id tenant.ID) (oldest kv.Timestamp, withoutProtection int, err error) {
	jobs, err := p.Jobs(ctx)
	if err != nil {
		return kv.Timestamp{}, 0, err
	}
	for _, j := range jobs {
		if j.TenantID != id {
			continue
		}
		if !j.holdsProtection() {
			withoutProtection++
			continue
		}
		if oldest.IsEmpty() || j.ProtectedTime.Less(oldest) {
			oldest = j.ProtectedTime
		}
	}
	return oldest, withoutProtection, nil
}

func (p *Producer) registerStream(id int64, cancel context.CancelFunc) func() {
	token := new(int)
	p.mu.Lock()
	m := p.mu.active[id]
	if m == nil {
		m = make(map[*int]context.CancelFunc)
		p.mu.active[id] = m
	}
	m[token] = cancel
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		delete(p.mu.active[id], token)
		if len(p.mu.active[id]) == 0 {
			delete(p.mu.active, id)
		}
		p.mu.Unlock()
	}
}

// ActiveStreams returns how many partition streams (StreamPartition
// calls) are running now, over all jobs; for tests and metrics.
func (p *Producer) ActiveStreams() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.mu.active {
		n += len(m)
	}
	return n
}

func (p *Producer) cancelStreams(id int64) {
	p.mu.Lock()
	var cancels []context.CancelFunc
	for _, c := range p.mu.active[id] {
		cancels = append(cancels, c)
	}
	p.mu.Unlock()
	for _, c := range cancels {
		c()
	}
}
