package sql

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vcdb/vcdb/replication"
)

// replicationMetric is one physical_replication_* family (CONTRACT §7,
// CRDB-PCR-FACTS §4.3: CockroachDB's names with '_' for '.').
type replicationMetric struct {
	name, typ, help string
	value           func(m *replication.TenantMetrics) string
}

func intMetric(f func(m *replication.TenantMetrics) int64) func(m *replication.TenantMetrics) string {
	return func(m *replication.TenantMetrics) string { return strconv.FormatInt(f(m), 10) }
}

var replicationMetrics = []replicationMetric{
	{"physical_replication_replicated_time_seconds", "gauge",
		"The replicated time of the replication stream in seconds since the Unix epoch (0 once failed over or cancelled).",
		func(m *replication.TenantMetrics) string {
			return strconv.FormatFloat(m.ReplicatedTimeSeconds, 'f', -1, 64)
		}},
	{"physical_replication_logical_bytes", "counter", "Logical bytes (sum of keys and values) ingested by the replication stream.",
		intMetric(func(m *replication.TenantMetrics) int64 { return m.LogicalBytes })},
	{"physical_replication_sst_bytes", "counter", "Bytes ingested as SSTables (initial scan).",
		intMetric(func(m *replication.TenantMetrics) int64 { return m.SSTBytes })},
	{"physical_replication_events_ingested", "counter", "Events (MVCC versions) ingested by the replication stream.",
		intMetric(func(m *replication.TenantMetrics) int64 { return m.EventsIngested })},
	{"physical_replication_resolved_events_ingested", "counter", "Resolved (checkpoint) events ingested by the replication stream.",
		intMetric(func(m *replication.TenantMetrics) int64 { return m.ResolvedEventsIngested })},
	{"physical_replication_flushes", "counter", "Flushes of ingested data performed by the replication stream.",
		intMetric(func(m *replication.TenantMetrics) int64 { return m.Flushes })},
	{"physical_replication_running", "gauge", "Whether the replication stream is connected and ingesting (1) or not (0).",
		intMetric(func(m *replication.TenantMetrics) int64 { return m.Running })},
	{"physical_replication_cutover_progress", "gauge", "Revert chunks left in a failover in progress (0 when none runs).",
		intMetric(func(m *replication.TenantMetrics) int64 { return m.CutoverProgress })},
	// vcdb's own, named vcdb_ (CockroachDB has no framing versions).
	{"vcdb_replication_framing_version", "gauge", "Stream framing version of the last frame received (1, or 2 with a CRC-32C per frame; 0 before any).",
		intMetric(func(m *replication.TenantMetrics) int64 { return m.FramingVersion })},
	{"vcdb_replication_checksummed_frames", "counter", "Frames received in framing v2 whose CRC-32C checksum was verified.",
		intMetric(func(m *replication.TenantMetrics) int64 { return m.ChecksummedFrames })},
}

// WriteReplicationMetrics writes the consumer's physical_replication_*
// metrics in Prometheus text format, one sample per replicating VC with a
// tenant label (the standby VC's name). Families are written with their
// HELP and TYPE lines even when no VC replicates, so that scrapers and
// dashboards find them on every node.
func (h *Host) WriteReplicationMetrics(w io.Writer) {
	var ms []replication.TenantMetrics
	if h.consumer != nil {
		ms = h.consumer.Metrics()
	}
	var b strings.Builder
	for _, rm := range replicationMetrics {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", rm.name, rm.help, rm.name, rm.typ)
		for i := range ms {
			fmt.Fprintf(&b, "%s{tenant=%q} %s\n", rm.name, ms[i].TenantName, rm.value(&ms[i]))
		}
	}
	_, _ = io.WriteString(w, b.String())
}
