package sql

import (
	"context"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/replication"
	"github.com/vcdb/vcdb/tenant"
)

// SHOW VIRTUAL CLUSTER(S) and SHOW EXPERIMENTAL_FINGERPRINTS.

func decimalCol(name string) resultColumn { return resultColumn{name: name, typ: types.Decimal} }

// showTenantColumns are the columns of a SHOW VIRTUAL CLUSTER form
// (CRDB-PCR-FACTS §1.4, the v25.2 server's layout).
func showTenantColumns(t *tree.ShowTenant) []resultColumn {
	var cols []resultColumn
	if t.WithReplication {
		cols = []resultColumn{intCol("id"), strCol("name"), intCol("ingestion_job_id"), strCol("source_tenant_name"),
			strCol("source_cluster_uri"), {name: "retained_time", typ: types.TimestampTZ},
			{name: "replicated_time", typ: types.TimestampTZ}, {name: "replication_lag", typ: types.Interval},
			decimalCol("failover_time"), strCol("status")}
	} else {
		cols = []resultColumn{intCol("id"), strCol("name"), strCol("data_state"), strCol("service_mode")}
	}
	if t.WithPriorReplication {
		cols = append(cols, strCol("source_id"), decimalCol("activation_time"))
	}
	if t.WithCapabilities {
		cols = append(cols, strCol("capability_name"), strCol("capability_value"))
	}
	return cols
}

var fingerprintColumns = []resultColumn{strCol("tenant_name"), decimalCol("start_ts"), decimalCol("end_ts"), intCol("fingerprint")}

// vcName is the name SHOW prints for rec (a dropping VC gave its name up).
func vcName(rec *tenant.Record) string {
	if rec.Name == "" {
		return rec.DroppedName
	}
	return rec.Name
}

// replicationStatus returns the replication status of rec, or nil when it
// has no active consumer job (or no provider is configured).
func (h *Host) replicationStatus(ctx context.Context, rec *tenant.Record) (*replication.ReplicationStatus, error) {
	if h.cfg.ReplicationStatus == nil || rec.ConsumerJobID == 0 {
		return nil, nil
	}
	st, err := h.cfg.ReplicationStatus.Status(ctx, rec.ID)
	if err != nil || st == nil {
		return nil, err
	}
	switch st.Status {
	case replication.StatusComplete, replication.StatusCancelled:
		return nil, nil
	}
	return st, nil
}

// execShowTenant computes SHOW VIRTUAL CLUSTER rows.
func (d *ddl) execShowTenant(ctx context.Context, t *tree.ShowTenant) ([]tree.Datums, error) {
	h, err := d.s.requireSystemHost(t)
	if err != nil {
		return nil, err
	}
	if err := requireSystemPrivilege(d.s.principal(d.snap), privilege.MANAGEVIRTUALCLUSTER); err != nil {
		return nil, err
	}
	spec, all, err := d.s.evalVCSpec(ctx, t.TenantSpec, d.rp.ec.Placeholders)
	if err != nil {
		return nil, err
	}
	var recs []*tenant.Record
	if all {
		if recs, err = h.listVisible(ctx, d.rp.txn); err != nil {
			return nil, err
		}
	} else {
		rec, err := h.resolve(ctx, d.rp.txn, spec)
		if err != nil {
			return nil, err
		}
		recs = []*tenant.Record{rec}
	}
	now := d.rp.txn.ReadTimestamp()
	var rows []tree.Datums
	for _, rec := range recs {
		st, err := h.replicationStatus(ctx, rec)
		if err != nil {
			return nil, err
		}
		state := string(rec.DataState)
		if st != nil {
			state = string(st.Status)
		}
		var row tree.Datums
		if t.WithReplication {
			row = replicationStatusRow(rec, st, state, now)
		} else {
			row = tree.Datums{dint(int64(rec.ID)), dstr(vcName(rec)), dstr(state), dstr(string(rec.ServiceMode))}
		}
		if t.WithPriorReplication {
			if p := rec.Prior; p != nil {
				row = append(row, dstr(p.SourceID()), decimalOrNull(p.ActivationTime))
			} else {
				row = append(row, tree.DNull, tree.DNull)
			}
		}
		if !t.WithCapabilities {
			rows = append(rows, row)
			continue
		}
		for _, c := range capabilityNames {
			r := append(append(tree.Datums(nil), row...), dstr(c), dstr(capabilityValue(rec, c)))
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// replicationStatusRow formats the WITH REPLICATION STATUS columns: times
// truncated to microseconds (retained_time plus 1 µs, a safe lower bound
// inside the window), the lag from the statement's time, the failover time
// as a DECIMAL HLC; NULLs for a VC that is not replicating.
func replicationStatusRow(rec *tenant.Record, st *replication.ReplicationStatus, state string, now kv.Timestamp) tree.Datums {
	row := tree.Datums{dint(int64(rec.ID)), dstr(vcName(rec))}
	if st == nil {
		return append(row, tree.DNull, tree.DNull, tree.DNull, tree.DNull, tree.DNull, tree.DNull, tree.DNull, dstr(state))
	}
	row = append(row, dint(st.JobID), dstrOrNull(st.SourceTenantName), dstrOrNull(st.SourceURI))
	if st.RetainedTime.IsEmpty() {
		row = append(row, tree.DNull)
	} else {
		row = append(row, timestampTZ(st.RetainedTime.GoTime().Truncate(time.Microsecond).Add(time.Microsecond)))
	}
	if st.ReplicatedTime.IsEmpty() {
		row = append(row, tree.DNull, tree.DNull)
	} else {
		rt := st.ReplicatedTime.GoTime().Truncate(time.Microsecond)
		lag := now.GoTime().Truncate(time.Microsecond).Sub(rt)
		row = append(row, timestampTZ(rt), &tree.DInterval{Duration: duration.MakeDuration(lag.Nanoseconds(), 0, 0)})
	}
	if st.FailoverTime.IsEmpty() {
		row = append(row, tree.DNull)
	} else {
		row = append(row, decimalOrNull(st.FailoverTime.String()))
	}
	return append(row, dstr(state))
}

func timestampTZ(t time.Time) tree.Datum {
	d, err := tree.MakeDTimestampTZ(t, time.Microsecond)
	if err != nil {
		return tree.DNull
	}
	return d
}

func decimalOrNull(s string) tree.Datum {
	if s == "" {
		return tree.DNull
	}
	d, err := tree.ParseDDecimal(s)
	if err != nil {
		return tree.DNull
	}
	return d
}

// execShowFingerprints computes SHOW EXPERIMENTAL_FINGERPRINTS FROM
// VIRTUAL CLUSTER: a hash of the VC's span as of the statement's read
// time (its AS OF SYSTEM TIME when used as a data source), of the newest
// versions without START TIMESTAMP, of every revision in (start, end]
// with it. Keys are hashed without the VC prefix, so equal VCs of
// different ids (a primary and its standby) hash equal.
func (d *ddl) execShowFingerprints(ctx context.Context, t *tree.ShowFingerprints) ([]tree.Datums, error) {
	if t.Table != nil {
		return nil, unimplemented("SHOW EXPERIMENTAL_FINGERPRINTS FROM TABLE")
	}
	h, err := d.s.requireSystemHost(t)
	if err != nil {
		return nil, err
	}
	if err := requireSystemPrivilege(d.s.principal(d.snap), privilege.MANAGEVIRTUALCLUSTER); err != nil {
		return nil, err
	}
	spec, _, err := d.s.evalVCSpec(ctx, t.TenantSpec, d.rp.ec.Placeholders)
	if err != nil {
		return nil, err
	}
	rec, err := h.resolve(ctx, d.rp.txn, spec)
	if err != nil {
		return nil, err
	}
	end := d.rp.txn.ReadTimestamp()
	var start kv.Timestamp
	startDatum := tree.Datum(tree.DNull)
	if t.Options.StartTimestamp != nil {
		if start, err = d.s.evalSystemTime(ctx, t.Options.StartTimestamp, d.rp.ec.Placeholders); err != nil {
			return nil, err
		}
		startDatum = decimalOrNull(start.String())
	}
	fp, err := replication.Fingerprint(ctx, h.kv, rec.ID, start, end)
	if err != nil {
		return nil, err
	}
	return []tree.Datums{{dstr(vcName(rec)), startDatum, decimalOrNull(end.String()), dint(int64(fp))}}, nil
}
