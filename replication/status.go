package replication

import (
	"context"
	"net/url"
	"strings"

	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// ReplicationStatus is one VC's replication state, for SHOW VIRTUAL CLUSTER
// ... WITH REPLICATION STATUS (the SQL layer formats the columns: times to
// microseconds, retained_time + 1 µs, the lag, the DECIMAL failover time).
type ReplicationStatus struct {
	JobID            int64 // ingestion_job_id
	TenantID         tenant.ID
	TenantName       string
	SourceTenantName string
	// SourceURI is redacted: no password, no certificate material.
	SourceURI      string
	RetainedTime   kv.Timestamp // empty: NULL
	ReplicatedTime kv.Timestamp // empty: NULL (before the initial scan ends)
	FailoverTime   kv.Timestamp // empty: NULL
	Status         Status
	LastError      string
	ReaderTenantID tenant.ID
	// Counters (also in Metrics).
	LogicalBytes int64
	Events       int64
}

// Status returns the replication status of VC id, or nil when it has no
// consumer job (the SQL layer then shows NULLs and the data state).
func (c *Consumer) Status(ctx context.Context, id tenant.ID) (*ReplicationStatus, error) {
	rec, err := c.cfg.Records.Get(ctx, nil, id)
	if err != nil {
		return nil, err
	}
	if rec.ConsumerJobID == 0 {
		return nil, nil
	}
	if j := c.job(rec.ConsumerJobID); j != nil {
		return j.status(), nil
	}
	jr, err := c.Job(ctx, rec.ConsumerJobID)
	if err != nil {
		return nil, err
	}
	prog, err := readProgress(ctx, c.cfg.Engine, jr.ID)
	if err != nil {
		return nil, err
	}
	st := statusOf(jr)
	if st.ReplicatedTime.Less(prog.ReplicatedTime) && jr.Machine.ScanDone {
		st.ReplicatedTime = prog.ReplicatedTime
	}
	st.LogicalBytes, st.Events = prog.LogicalBytes, prog.Events
	return st, nil
}

func statusOf(rec *ConsumerJob) *ReplicationStatus {
	st := &ReplicationStatus{
		JobID: rec.ID, TenantID: rec.TenantID, TenantName: rec.TenantName,
		SourceTenantName: rec.SourceTenantName, SourceURI: RedactURI(rec.SourceURI),
		RetainedTime: rec.Machine.RetainedTime, FailoverTime: rec.Machine.FailoverTime,
		Status: rec.Machine.Status, LastError: rec.Machine.LastError,
		ReaderTenantID: rec.ReaderTenantID,
	}
	if rec.Machine.ScanDone {
		st.ReplicatedTime = rec.Machine.ReplicatedTime
	}
	return st
}

// status is built from the job goroutine's last published snapshot, so
// that the status and the times in it belong together (the ingester's
// atomics may be a flush ahead; ReplicatedTime serves those).
func (j *consumerJob) status() *ReplicationStatus {
	st := statusOf(j.published.Load())
	st.LogicalBytes = j.metrics.logicalBytes.Load()
	st.Events = j.metrics.events.Load()
	return st
}

// ReplicatedTime returns the durable replicated time of the VC whose
// consumer job is jobID, from memory: cheap enough to call for every
// transaction of the read-only VC. ok is false when the job is not running
// here or has no replicated time yet.
func (c *Consumer) ReplicatedTime(jobID int64) (ts kv.Timestamp, ok bool) {
	j := c.job(jobID)
	if j == nil || !j.scanDone.Load() {
		return kv.Timestamp{}, false
	}
	ts = *j.replicated.Load()
	return ts, !ts.IsEmpty()
}

// ReaderTimestamp returns the time at which the read-only VC reader serves
// reads of the VC it reads from: that VC's replicated time while it
// replicates, its activation time once it was promoted (the reader then
// stays frozen, CONTRACT §4). ok is false when there is nothing to read yet.
func (c *Consumer) ReaderTimestamp(ctx context.Context, reader *tenant.Record) (kv.Timestamp, bool, error) {
	if reader.ReadFrom == 0 {
		return kv.Timestamp{}, false, nil
	}
	src, err := c.cfg.Records.Get(ctx, nil, reader.ReadFrom)
	if err != nil {
		return kv.Timestamp{}, false, err
	}
	if src.ConsumerJobID != 0 {
		ts, ok := c.ReplicatedTime(src.ConsumerJobID)
		return ts, ok, nil
	}
	if src.Prior != nil {
		ts, err := kv.ParseTimestamp(src.Prior.ActivationTime)
		return ts, err == nil, err
	}
	return kv.Timestamp{}, false, nil
}

// TenantMetrics is one VC's physical_replication_* metrics (CONTRACT §7);
// the server renders them as Prometheus text with a tenant label.
type TenantMetrics struct {
	TenantName string
	// ReplicatedTimeSeconds: physical_replication_replicated_time_seconds
	// (0 once failed over or cancelled).
	ReplicatedTimeSeconds float64
	// LogicalBytes: physical_replication_logical_bytes (keys + values).
	LogicalBytes int64
	// SSTBytes: physical_replication_sst_bytes (ingested as SSTables).
	SSTBytes int64
	// EventsIngested: physical_replication_events_ingested.
	EventsIngested int64
	// ResolvedEventsIngested: physical_replication_resolved_events_ingested.
	ResolvedEventsIngested int64
	// Flushes: physical_replication_flushes.
	Flushes int64
	// Running: physical_replication_running (1 while a stream is open).
	Running int64
	// CutoverProgress: physical_replication_cutover_progress (revert
	// chunks in progress; 0 when no revert runs).
	CutoverProgress int64
	// FramingVersion: vcdb_replication_framing_version (the stream
	// framing of the last frame received; 0 before any).
	FramingVersion int64
	// ChecksummedFrames: vcdb_replication_checksummed_frames (framing
	// v2 frames whose CRC-32C verified).
	ChecksummedFrames int64
}

// Metrics returns a snapshot of every running consumer job's metrics,
// ordered by job id.
func (c *Consumer) Metrics() []TenantMetrics {
	c.mu.Lock()
	jobs := make([]*consumerJob, 0, len(c.mu.jobs))
	for _, j := range c.mu.jobs {
		jobs = append(jobs, j)
	}
	c.mu.Unlock()
	sortJobs(jobs)
	out := make([]TenantMetrics, 0, len(jobs))
	for _, j := range jobs {
		rec := j.published.Load()
		m := TenantMetrics{
			TenantName:             rec.TenantName,
			LogicalBytes:           j.metrics.logicalBytes.Load(),
			SSTBytes:               j.metrics.sstBytes.Load(),
			EventsIngested:         j.metrics.events.Load(),
			ResolvedEventsIngested: j.metrics.resolvedEvents.Load(),
			Flushes:                j.metrics.flushes.Load(),
			CutoverProgress:        j.metrics.cutoverProgress.Load(),
			FramingVersion:         j.metrics.framing.Load(),
			ChecksummedFrames:      j.metrics.checksummedFrames.Load(),
		}
		if j.metrics.running.Load() {
			m.Running = 1
		}
		if j.scanDone.Load() && !rec.Machine.Status.Terminal() && rec.Machine.Status != StatusFailingOver {
			m.ReplicatedTimeSeconds = float64(j.replicated.Load().WallTime) / 1e9
		}
		out = append(out, m)
	}
	return out
}

func sortJobs(js []*consumerJob) {
	for i := 1; i < len(js); i++ {
		for k := i; k > 0 && js[k].id < js[k-1].id; k-- {
			js[k], js[k-1] = js[k-1], js[k]
		}
	}
}

// RedactURI removes the password and every query parameter (certificate
// material, inline keys) from a source URI, keeping the user, host and
// port: postgresql://user@host:26257?redacted (CRDB-PCR-FACTS §1.4).
// external:// references name no secret and are kept as they are.
func RedactURI(uri string) string {
	if strings.HasPrefix(uri, "external://") {
		return uri
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return "?redacted"
	}
	out := u.Scheme + "://"
	if u.User != nil {
		out += url.User(u.User.Username()).String() + "@"
	}
	out += u.Host
	if u.RawQuery != "" || u.User != nil {
		out += "?redacted"
	}
	return out
}
