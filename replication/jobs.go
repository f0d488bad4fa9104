package replication

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/util/encoding"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// Job records.
//
// Everything replication persists lives in the system VC's span under
// tenant.MetaPrefix(tenant.MetaReplication):
//
//	+ 0x01                 next job id (uvarint); producer and consumer jobs share it
//	+ 0x02 + uvarint(id)   producer job (JSON)
//	+ 0x03 + uvarint(id)   consumer job (JSON): identity, source, state machine
//	+ 0x04 + uvarint(id)   consumer progress register (JSON)
//
// Job records are changed in ordinary serializable transactions. The
// progress register is different: it has a single writer (the job's
// ingester), it changes at every flush (every few milliseconds), and it must
// become durable in the same Pebble batch as the data it describes. So it is
// written with kv.WriteVersions, in the data's batch, at the fixed timestamp
// progressTS: each flush overwrites the register in place instead of adding
// an MVCC version (200 flushes a second would otherwise pile up hours of
// history in one key). A reader at any timestamp sees the latest flush.
// Transactions never write the register, so bypassing their validation
// loses nothing.

const (
	keyNextID   byte = 0x01
	keyProducer byte = 0x02
	keyConsumer byte = 0x03
	keyProgress byte = 0x04
)

// progressTS is the fixed timestamp of progress registers (see above).
var progressTS = kv.Timestamp{WallTime: 1}

func metaKey(kind byte) []byte {
	return append(tenant.MetaPrefix(tenant.MetaReplication), kind)
}

func jobKey(kind byte, id int64) []byte {
	return encoding.EncodeUvarintAscending(metaKey(kind), uint64(id))
}

func kindSpan(kind byte) kv.Span {
	p := metaKey(kind)
	return kv.Span{Key: p, EndKey: kv.PrefixEnd(p)}
}

// tenantSpan returns VC id's whole span.
func tenantSpan(id tenant.ID) kv.Span {
	return kv.Span{Key: tenant.Prefix(id), EndKey: tenant.PrefixEnd(id)}
}

// allocJobID takes the next id of the shared sequence inside txn.
func allocJobID(ctx context.Context, txn *kv.Txn) (int64, error) {
	k := metaKey(keyNextID)
	v, found, err := txn.Get(ctx, k)
	if err != nil {
		return 0, err
	}
	next := uint64(1)
	if found {
		if _, next, err = encoding.DecodeUvarintAscending(v); err != nil {
			return 0, errors.Wrap(err, "replication: corrupt job id sequence")
		}
	}
	if err := txn.Put(k, encoding.EncodeUvarintAscending(nil, next+1)); err != nil {
		return 0, err
	}
	return int64(next), nil
}

func getJSON(ctx context.Context, txn *kv.Txn, key []byte, v interface{}) (bool, error) {
	raw, found, err := txn.Get(ctx, key)
	if err != nil || !found {
		return found, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, errors.Wrapf(err, "replication: corrupt record %x", key)
	}
	return true, nil
}

func putJSON(txn *kv.Txn, key []byte, v interface{}) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Put(key, raw)
}

// scanJSON decodes every record of a kind, in id order.
func scanJSON[T any](ctx context.Context, txn *kv.Txn, kind byte) ([]*T, error) {
	var out []*T
	span := kindSpan(kind)
	for {
		res, err := txn.Scan(ctx, span, kv.ScanOptions{})
		if err != nil {
			return nil, err
		}
		for _, kvp := range res.KVs {
			v := new(T)
			if err := json.Unmarshal(kvp.Value, v); err != nil {
				return nil, errors.Wrapf(err, "replication: corrupt record %x", kvp.Key)
			}
			out = append(out, v)
		}
		if res.ResumeSpan == nil {
			return out, nil
		}
		span = *res.ResumeSpan
	}
}

// Producer job statuses.
const (
	// ProducerRunning: a consumer streams (or may resume streaming).
	ProducerRunning = "running"
	// ProducerRetaining: the stream completed successfully (the standby
	// failed over), or this is a post-failover retention job; the
	// protection stays until the job expires so that a fast failback can
	// revert to the divergence time.
	ProducerRetaining = "retaining"
	// ProducerFailed: completed unsuccessfully (the standby dropped the
	// stream); protection released.
	ProducerFailed = "failed"
	// ProducerExpired: no heartbeat within the expiration window;
	// protection released.
	ProducerExpired = "expired"
)

// Producer job kinds.
const (
	ProducerKindStream    = "stream"
	ProducerKindRetention = "retention"
)

// ProducerJob is the source side of one stream (or a retention job).
type ProducerJob struct {
	ID                int64     `json:"id"`
	Kind              string    `json:"kind"`
	TenantID          tenant.ID `json:"tenant_id"`
	TenantName        string    `json:"tenant_name"`
	ConsumerClusterID string    `json:"consumer_cluster_id,omitempty"`
	ConsumerTenantID  tenant.ID `json:"consumer_tenant_id,omitempty"`
	// ConsumerVersion is the standby's system VC's cluster version, as of
	// the last start request, partition spec or heartbeat, so that the
	// source can refuse to finalize the VC past it while the stream runs.
	ConsumerVersion string `json:"consumer_version,omitempty"`
	// ConsumerMaxFraming is the newest framing the consumer decodes (0:
	// v1 only).
	ConsumerMaxFraming byte   `json:"consumer_max_framing,omitempty"`
	PTSID              string `json:"pts_id"`
	// StartTime is the stream's start (initial scan snapshot or resume
	// time); ProtectedTime is where the protection stands now (it only
	// moves up, to the consumer's heartbeated retained time).
	StartTime        kv.Timestamp  `json:"start_time"`
	ProtectedTime    kv.Timestamp  `json:"protected_time"`
	ExpirationWindow time.Duration `json:"expiration_window"`
	// ExpiresAt is wall time in Unix nanoseconds.
	ExpiresAt int64  `json:"expires_at"`
	Status    string `json:"status"`
	// User is the user of the stream's connection (the standby's user on
	// this cluster), empty for a retention job, which the system makes.
	User string `json:"user,omitempty"`
	// JobTimes: created, last modified (every heartbeat), finished.
	JobTimes
}

// JobTimes are the wall times (Unix nanoseconds, 0: unknown, as in records
// written before they existed) SHOW JOBS prints as created, modified and
// finished. A job starts running when it is created, so started is
// created.
type JobTimes struct {
	Created  int64 `json:"created,omitempty"`
	Modified int64 `json:"modified,omitempty"`
	Finished int64 `json:"finished,omitempty"`
}

// touch records a write of the job at now; finished says whether the job
// has reached a terminal status (its first such write is its finish).
func (t *JobTimes) touch(now int64, finished bool) {
	if t.Created == 0 {
		t.Created = now
	}
	t.Modified = now
	if finished && t.Finished == 0 {
		t.Finished = now
	}
}

// holdsProtection reports whether the job's protected timestamp is in force.
func (j *ProducerJob) holdsProtection() bool {
	return j.Status == ProducerRunning || j.Status == ProducerRetaining
}

// ConsumerJob is the standby side of one stream: who, from where, and the
// state machine.
type ConsumerJob struct {
	ID             int64     `json:"id"`
	TenantID       tenant.ID `json:"tenant_id"`
	TenantName     string    `json:"tenant_name"`
	ReaderTenantID tenant.ID `json:"reader_tenant_id,omitempty"`
	// SourceURI is the URI as given (secrets included: the job must
	// reconnect after a restart). It is shown only redacted.
	SourceURI        string        `json:"source_uri"`
	SourceTenantName string        `json:"source_tenant_name"`
	SourceTenantID   tenant.ID     `json:"source_tenant_id"`
	SourceClusterID  string        `json:"source_cluster_id"`
	StreamID         int64         `json:"stream_id"`
	Retention        time.Duration `json:"retention"`
	PTSID            string        `json:"pts_id"`
	// Failback is set for a job created by ALTER ... START REPLICATION.
	Failback bool `json:"failback,omitempty"`
	// FailoverLatest records that COMPLETE REPLICATION said LATEST (the
	// reader VC then stays, frozen; otherwise it is dropped).
	FailoverLatest bool `json:"failover_latest,omitempty"`
	// RetentionJobID is the post-failover retention producer job, once made.
	RetentionJobID int64 `json:"retention_job_id,omitempty"`
	// ReaderActivated: the reader VC was made ready/shared.
	ReaderActivated bool `json:"reader_activated,omitempty"`
	// Description is the statement that made the job, secrets redacted
	// (the SQL layer formats it); User is who ran it. SHOW JOBS prints
	// them.
	Description string `json:"description,omitempty"`
	User        string `json:"user,omitempty"`
	JobTimes

	Machine Machine `json:"machine"`
}

// consumerProgress is the progress register (see the top of this file).
type consumerProgress struct {
	ReplicatedTime kv.Timestamp `json:"replicated_time"`
	ScanDone       bool         `json:"scan_done"`
	// ScanResumeKey: every initial-scan key below it (without tenant
	// prefix) is durable.
	ScanResumeKey []byte `json:"scan_resume_key,omitempty"`
	// MaxWritten is the highest timestamp ever written into the span by
	// this job; a failover to t >= MaxWritten needs no revert.
	MaxWritten kv.Timestamp `json:"max_written"`
	// Reverting: RevertTo is the revert target and RevertResumeKey the
	// first key not yet reverted (empty: not started).
	RevertTo        kv.Timestamp `json:"revert_to,omitempty"`
	RevertResumeKey []byte       `json:"revert_resume_key,omitempty"`
	RevertDone      bool         `json:"revert_done,omitempty"`
	// Counters, persisted with the data so that they survive restarts.
	LogicalBytes   int64 `json:"logical_bytes"`
	SSTBytes       int64 `json:"sst_bytes"`
	Events         int64 `json:"events"`
	ResolvedEvents int64 `json:"resolved_events"`
	Flushes        int64 `json:"flushes"`
}

func (p *consumerProgress) version(id int64) kv.Version {
	raw, _ := json.Marshal(p)
	return kv.Version{Key: jobKey(keyProgress, id), Timestamp: progressTS, Value: raw}
}

func readProgress(ctx context.Context, eng *kv.Engine, id int64) (consumerProgress, error) {
	var p consumerProgress
	raw, found, err := eng.Get(ctx, jobKey(keyProgress, id), eng.Now())
	if err != nil || !found {
		return p, err
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, errors.Wrapf(err, "replication: corrupt progress of job %d", id)
	}
	return p, nil
}

func writeProgress(ctx context.Context, eng *kv.Engine, id int64, p *consumerProgress) error {
	return eng.WriteVersions(ctx, []kv.Version{p.version(id)})
}
