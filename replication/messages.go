package replication

import (
	"encoding/json"
	"strings"

	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// Control messages of the stream protocol.
//
// These are the BYTES arguments and results of the crdb_internal builtins
// (see source_pg.go for the statements). They are JSON: they are small and
// rare, JSON tolerates fields added by a newer peer, and a malformed message
// from the other cluster is an error rather than a panic. Timestamps travel
// as the decimal HLC form (kv.Timestamp.String), as SQL shows them. The
// hot path, the event frames, is binary (frame.go).

// ProtocolVersion is the control protocol version this package speaks; a
// peer answering with a higher one is refused.
const ProtocolVersion = 1

// StartRequest is the consumer's request to start a stream
// (crdb_internal.start_replication_stream's second argument).
type StartRequest struct {
	ProtocolVersion int `json:"protocol_version"`
	// ConsumerClusterID and ConsumerTenantID identify the standby's VC.
	ConsumerClusterID string    `json:"consumer_cluster_id"`
	ConsumerTenantID  tenant.ID `json:"consumer_tenant_id"`
	// ConsumerVersion is the standby's system VC's cluster version, for
	// the source's own checks (may be empty: an unknown version).
	ConsumerVersion string `json:"consumer_version,omitempty"`
	// MaxFraming is the newest stream framing the consumer decodes (0:
	// FramingV1 only).
	MaxFraming byte `json:"max_framing,omitempty"`
	// ResumeTime, when set, asks for a stream that resumes at an existing
	// common history point instead of a new start time (failback): the
	// producer protects the span from there and the consumer will ask for no
	// initial scan.
	ResumeTime kv.Timestamp `json:"-"`
	// ExpectPriorSource is set when the consumer claims the source VC was
	// once replicated from it (ordinary failback): the producer then checks
	// its own prior replication details name the consumer.
	ExpectPriorSource bool `json:"expect_prior_source,omitempty"`
}

// StreamSpec is the producer's answer to a StartRequest.
type StreamSpec struct {
	ProtocolVersion  int       `json:"protocol_version"`
	StreamID         int64     `json:"stream_id"`
	SourceTenantID   tenant.ID `json:"source_tenant_id"`
	SourceTenantName string    `json:"source_tenant_name"`
	SourceClusterID  string    `json:"source_cluster_id"`
	// StartTime is the snapshot time of the initial scan (or the resume
	// time of a failback stream); the producer protects the span from it.
	StartTime kv.Timestamp `json:"-"`
	// SourceVersion is the source VC's cluster version, when known.
	SourceVersion string `json:"source_version,omitempty"`
	// FramingVersion is the newest framing the producer can send; which
	// one it sends depends on the source VC's version and the consumer's
	// MaxFraming (versions.go), and each frame names its own.
	FramingVersion byte `json:"framing_version"`
}

// PartitionSpec says where a partition stream starts
// (crdb_internal.stream_partition's second argument).
type PartitionSpec struct {
	// StartTime: with InitialScan, the scan's snapshot time; otherwise the
	// stream carries every version above it (the consumer's persisted
	// replicated time).
	StartTime   kv.Timestamp `json:"-"`
	InitialScan bool         `json:"initial_scan"`
	// ScanResumeKey resumes an interrupted initial scan at this key (without
	// the tenant prefix); empty starts at the beginning.
	ScanResumeKey []byte `json:"scan_resume_key,omitempty"`
	// ConsumerVersion and MaxFraming are the consumer's at this session's
	// start (it may have been upgraded since the stream started); empty
	// and 0 leave the producer job's values as they are.
	ConsumerVersion string `json:"consumer_version,omitempty"`
	MaxFraming      byte   `json:"max_framing,omitempty"`
}

// HeartbeatRequest is crdb_internal.replication_stream_heartbeat's second
// argument: a JSON object, or (from a peer that sends only its retained
// time) the bare timestamp.
type HeartbeatRequest struct {
	RetainedTime kv.Timestamp `json:"-"`
	// ConsumerVersion is the standby system VC's cluster version now, so
	// that the source knows about a standby finalized mid-stream.
	ConsumerVersion string `json:"consumer_version,omitempty"`
}

// StreamStatus is the producer's answer to a heartbeat.
type StreamStatus struct {
	// Status is the producer job's status (producerStatus values).
	Status string `json:"status"`
	// ProtectedTime is where the producer's protection now stands.
	ProtectedTime kv.Timestamp `json:"-"`
	// ExpiresAt is the wall time (Unix nanos) the producer job ends if no
	// further heartbeat arrives.
	ExpiresAt int64 `json:"expires_at"`
	// SourceVersion is the source VC's cluster version now, so that the
	// consumer notices a source finalized mid-stream.
	SourceVersion string `json:"source_version,omitempty"`
}

// PriorDetails answers crdb_internal.replication_prior_details: who a VC is
// and where its data came from (CRDB-PCR-FACTS §3.2).
type PriorDetails struct {
	ClusterID  string    `json:"cluster_id"`
	TenantID   tenant.ID `json:"tenant_id"`
	TenantName string    `json:"tenant_name"`
	// Prior is the VC's prior replication record; nil if it never was a
	// standby.
	Prior *tenant.PriorReplication `json:"prior,omitempty"`
}

// Wire forms carry timestamps as decimal strings.
type startRequestWire struct {
	StartRequest
	ResumeTime string `json:"resume_time,omitempty"`
}

type streamSpecWire struct {
	StreamSpec
	StartTime string `json:"start_time"`
}

type partitionSpecWire struct {
	PartitionSpec
	StartTime string `json:"start_time"`
}

type heartbeatRequestWire struct {
	HeartbeatRequest
	RetainedTime string `json:"retained_time"`
}

type streamStatusWire struct {
	StreamStatus
	ProtectedTime string `json:"protected_time,omitempty"`
}

func tsString(ts kv.Timestamp) string {
	if ts.IsEmpty() {
		return ""
	}
	return ts.String()
}

func parseTS(s, what string) (kv.Timestamp, error) {
	if s == "" {
		return kv.Timestamp{}, nil
	}
	ts, err := kv.ParseTimestamp(s)
	if err != nil {
		return kv.Timestamp{}, errors.Wrapf(err, "replication: bad %s", what)
	}
	return ts, nil
}

func decodeJSON(b []byte, v interface{}, what string) error {
	if err := json.Unmarshal(b, v); err != nil {
		return errors.Wrapf(err, "replication: malformed %s", what)
	}
	return nil
}

func checkProtocol(v int, what string) error {
	if v < 1 || v > ProtocolVersion {
		return errors.Newf("replication: %s has unsupported protocol version %d (this node speaks %d)", what, v, ProtocolVersion)
	}
	return nil
}

// Encode returns the wire form.
func (r StartRequest) Encode() []byte {
	r.ProtocolVersion = ProtocolVersion
	b, _ := json.Marshal(startRequestWire{StartRequest: r, ResumeTime: tsString(r.ResumeTime)})
	return b
}

// DecodeStartRequest parses the wire form.
func DecodeStartRequest(b []byte) (StartRequest, error) {
	var w startRequestWire
	if err := decodeJSON(b, &w, "start request"); err != nil {
		return StartRequest{}, err
	}
	if err := checkProtocol(w.ProtocolVersion, "start request"); err != nil {
		return StartRequest{}, err
	}
	var err error
	w.StartRequest.ResumeTime, err = parseTS(w.ResumeTime, "resume time")
	return w.StartRequest, err
}

// Encode returns the wire form.
func (s StreamSpec) Encode() []byte {
	s.ProtocolVersion = ProtocolVersion
	b, _ := json.Marshal(streamSpecWire{StreamSpec: s, StartTime: tsString(s.StartTime)})
	return b
}

// DecodeStreamSpec parses the wire form.
func DecodeStreamSpec(b []byte) (StreamSpec, error) {
	var w streamSpecWire
	if err := decodeJSON(b, &w, "stream spec"); err != nil {
		return StreamSpec{}, err
	}
	if err := checkProtocol(w.ProtocolVersion, "stream spec"); err != nil {
		return StreamSpec{}, err
	}
	var err error
	if w.StreamSpec.StartTime, err = parseTS(w.StartTime, "start time"); err != nil {
		return StreamSpec{}, err
	}
	if w.StreamSpec.StartTime.IsEmpty() || w.StreamID <= 0 {
		return StreamSpec{}, errors.New("replication: stream spec without stream id or start time")
	}
	if w.FramingVersion < FramingV1 {
		return StreamSpec{}, errors.Newf("replication: stream spec names framing version %d", w.FramingVersion)
	}
	return w.StreamSpec, nil
}

// Encode returns the wire form.
func (p PartitionSpec) Encode() []byte {
	b, _ := json.Marshal(partitionSpecWire{PartitionSpec: p, StartTime: tsString(p.StartTime)})
	return b
}

// DecodePartitionSpec parses the wire form.
func DecodePartitionSpec(b []byte) (PartitionSpec, error) {
	var w partitionSpecWire
	if err := decodeJSON(b, &w, "partition spec"); err != nil {
		return PartitionSpec{}, err
	}
	var err error
	if w.PartitionSpec.StartTime, err = parseTS(w.StartTime, "start time"); err != nil {
		return PartitionSpec{}, err
	}
	if w.PartitionSpec.StartTime.IsEmpty() {
		return PartitionSpec{}, errors.New("replication: partition spec without start time")
	}
	return w.PartitionSpec, nil
}

// Encode returns the wire form.
func (r HeartbeatRequest) Encode() string {
	b, _ := json.Marshal(heartbeatRequestWire{HeartbeatRequest: r, RetainedTime: tsString(r.RetainedTime)})
	return string(b)
}

// DecodeHeartbeatRequest parses the wire form: a JSON object, or a bare
// retained time.
func DecodeHeartbeatRequest(s string) (HeartbeatRequest, error) {
	if !strings.HasPrefix(s, "{") {
		ts, err := kv.ParseTimestamp(s)
		if err != nil {
			return HeartbeatRequest{}, errors.Wrap(err, "replication: bad retained time")
		}
		return HeartbeatRequest{RetainedTime: ts}, nil
	}
	var w heartbeatRequestWire
	if err := decodeJSON([]byte(s), &w, "heartbeat request"); err != nil {
		return HeartbeatRequest{}, err
	}
	var err error
	if w.HeartbeatRequest.RetainedTime, err = parseTS(w.RetainedTime, "retained time"); err != nil {
		return HeartbeatRequest{}, err
	}
	if w.HeartbeatRequest.RetainedTime.IsEmpty() {
		return HeartbeatRequest{}, errors.New("replication: heartbeat request without a retained time")
	}
	return w.HeartbeatRequest, nil
}

// Encode returns the wire form.
func (s StreamStatus) Encode() []byte {
	b, _ := json.Marshal(streamStatusWire{StreamStatus: s, ProtectedTime: tsString(s.ProtectedTime)})
	return b
}

// DecodeStreamStatus parses the wire form.
func DecodeStreamStatus(b []byte) (StreamStatus, error) {
	var w streamStatusWire
	if err := decodeJSON(b, &w, "stream status"); err != nil {
		return StreamStatus{}, err
	}
	var err error
	w.StreamStatus.ProtectedTime, err = parseTS(w.ProtectedTime, "protected time")
	return w.StreamStatus, err
}

// Encode returns the wire form.
func (d PriorDetails) Encode() []byte {
	b, _ := json.Marshal(d)
	return b
}

// DecodePriorDetails parses the wire form.
func DecodePriorDetails(b []byte) (PriorDetails, error) {
	var d PriorDetails
	if err := decodeJSON(b, &d, "prior replication details"); err != nil {
		return PriorDetails{}, err
	}
	if d.Prior != nil {
		if _, err := parseTS(d.Prior.ActivationTime, "activation time"); err != nil {
			return PriorDetails{}, err
		}
	}
	return d, nil
}
