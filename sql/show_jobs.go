package sql

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/replication"
)

// SHOW JOBS, SHOW JOB <id>, SHOW JOBS VALUES (...), and both as data
// sources (SELECT ... FROM [SHOW JOBS] WHERE job_type = ...).
//
// vcdb's jobs are the physical cluster's replication jobs, which live in
// the system VC (replication.JobInfo): consumer jobs (REPLICATION STREAM
// INGESTION) on a standby and producer jobs (REPLICATION STREAM PRODUCER)
// on a primary. An application VC has no jobs of its own, so SHOW JOBS
// there returns no rows, as CockroachDB's does in a VC without jobs
// (refusing it would break tools that list jobs everywhere).
//
// Who sees what is CockroachDB's rule: admins and holders of the VIEWJOB
// system privilege see every job; other users see the jobs they started.
//
// Columns are CockroachDB's (v24/v25) where vcdb has the value; the rest
// are NULL: statement is '' (the description is the statement, as for
// CockroachDB's replication jobs), started is created (a job runs from
// its creation), fraction_completed is known only once a job succeeded
// (1), and coordinator_id is this node (1) while the job is live here.

var showJobsColumns = []resultColumn{
	intCol("job_id"), strCol("job_type"), strCol("description"), strCol("statement"), strCol("user_name"),
	strCol("status"), strCol("running_status"),
	{name: "created", typ: types.TimestampTZ}, {name: "started", typ: types.TimestampTZ},
	{name: "finished", typ: types.TimestampTZ}, {name: "modified", typ: types.TimestampTZ},
	{name: "fraction_completed", typ: types.Float}, strCol("error"), intCol("coordinator_id"),
}

// nodeID is the id of vcdb's single node, as SHOW SESSIONS prints it.
const nodeID = 1

// execShowJobs computes the rows of SHOW JOBS.
func (d *ddl) execShowJobs(ctx context.Context, t *tree.ShowJobs) ([]tree.Datums, error) {
	switch {
	case t.Block:
		return nil, pgerror.Newf(pgcode.FeatureNotSupported,
			"SHOW JOBS WHEN COMPLETE is not supported: replication jobs run until failover or DROP; poll SHOW JOB <id>")
	case t.Schedules != nil:
		return nil, pgerror.Newf(pgcode.FeatureNotSupported, "SHOW JOBS FOR SCHEDULES is not supported: vcdb has no schedules")
	case t.Options != nil:
		return nil, pgerror.Newf(pgcode.FeatureNotSupported, "SHOW JOBS WITH EXECUTION DETAILS is not supported")
	}
	var only map[int64]bool
	if t.Jobs != nil {
		var err error
		if only, err = d.showJobsIDs(ctx, t.Jobs); err != nil {
			return nil, err
		}
	}
	h := d.s.srv.host
	if t.Automatic || !d.s.srv.isSystem() || h == nil || h.consumer == nil || h.producer == nil {
		// vcdb starts no automatic jobs, and only the system VC has jobs.
		return nil, nil
	}
	var infos []replication.JobInfo
	cjobs, err := h.consumer.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	for _, j := range cjobs {
		infos = append(infos, replication.ConsumerJobInfo(j))
	}
	pjobs, err := h.producer.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	for _, j := range pjobs {
		infos = append(infos, replication.ProducerJobInfo(j))
	}
	pr := d.s.principal(d.snap)
	all := pr.HasSystemPrivilege(privilege.VIEWJOB)
	kept := infos[:0]
	for _, ji := range infos {
		if (only == nil || only[ji.ID]) && (all || (ji.User != "" && ji.User == pr.Name)) {
			kept = append(kept, ji)
		}
	}
	sortJobInfos(kept)
	rows := make([]tree.Datums, 0, len(kept))
	for _, ji := range kept {
		row, err := jobRow(ji)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// sortJobInfos orders jobs as CockroachDB's SHOW JOBS does: live jobs
// first, by creation, then finished ones, most recently finished first
// (ids break ties, so the order is total).
func sortJobInfos(js []replication.JobInfo) {
	sort.SliceStable(js, func(i, k int) bool {
		a, b := js[i], js[k]
		af, bf := !a.Finished.IsZero() || !a.Running, !b.Finished.IsZero() || !b.Running
		if af != bf {
			return !af
		}
		if !af {
			if !a.Created.Equal(b.Created) {
				return a.Created.Before(b.Created)
			}
			return a.ID < b.ID
		}
		if !a.Finished.Equal(b.Finished) {
			return a.Finished.After(b.Finished)
		}
		return a.ID < b.ID
	})
}

// showJobsIDs evaluates the ids of SHOW JOB <id> and SHOW JOBS VALUES
// (...): constants or placeholders. Other queries are not supported
// (filter SELECT ... FROM [SHOW JOBS] instead).
func (d *ddl) showJobsIDs(ctx context.Context, sel *tree.Select) (map[int64]bool, error) {
	vals, ok := sel.Select.(*tree.ValuesClause)
	if !ok || sel.With != nil || sel.OrderBy != nil || sel.Limit != nil {
		return nil, pgerror.Newf(pgcode.FeatureNotSupported,
			"SHOW JOBS with a query is not supported: use SHOW JOB <id>, SHOW JOBS VALUES (<id>), ... or SELECT ... FROM [SHOW JOBS] WHERE ...")
	}
	ids := map[int64]bool{}
	for _, row := range vals.Rows {
		if len(row) != 1 {
			return nil, pgerror.Newf(pgcode.Syntax, "SHOW JOBS expects one job id per row, got %d values", len(row))
		}
		v, err := d.s.varValue(ctx, row[0], d.rp.ec.Placeholders)
		if err != nil {
			return nil, err
		}
		id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, pgerror.Newf(pgcode.InvalidTextRepresentation, "could not parse %q as a job id", v)
		}
		ids[id] = true
	}
	return ids, nil
}

func jobRow(ji replication.JobInfo) (tree.Datums, error) {
	ts := func(t time.Time) (tree.Datum, error) {
		if t.IsZero() {
			return tree.DNull, nil
		}
		return tree.MakeDTimestampTZ(t, time.Microsecond)
	}
	created, err := ts(ji.Created)
	if err != nil {
		return nil, err
	}
	finished, err := ts(ji.Finished)
	if err != nil {
		return nil, err
	}
	modified, err := ts(ji.Modified)
	if err != nil {
		return nil, err
	}
	row := tree.Datums{
		dint(ji.ID), dstr(ji.Type), dstr(ji.Description), dstr(""), dstrOrNull(ji.User),
		dstr(ji.Status), dstrOrNull(ji.RunningStatus),
		created, created, finished, modified,
		tree.DNull, dstr(ji.Error), tree.DNull,
	}
	if ji.FractionKnown {
		row[11] = tree.NewDFloat(tree.DFloat(ji.FractionCompleted))
	}
	if ji.Running {
		row[13] = dint(nodeID)
	}
	return row, nil
}
