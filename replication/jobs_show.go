package replication

import (
	"fmt"
	"time"
)

// SHOW JOBS.
//
// Replication has two kinds of jobs, named as CockroachDB names them: the
// standby's consumer job per replicating VC (REPLICATION STREAM INGESTION)
// and the primary's producer job per stream (REPLICATION STREAM PRODUCER;
// a post-failover retention job is one too, without a stream). JobInfo is
// one of them in SHOW JOBS's terms; the SQL layer adds the columns and
// decides who may see which job.

// Job types, CockroachDB's strings (CRDB-PCR-FACTS §4.1).
const (
	JobTypeIngestion = "REPLICATION STREAM INGESTION"
	JobTypeProducer  = "REPLICATION STREAM PRODUCER"
)

// Job statuses: CockroachDB's job status vocabulary, of which replication
// jobs use these.
const (
	JobStatusRunning   = "running"
	JobStatusPaused    = "paused"
	JobStatusSucceeded = "succeeded"
	JobStatusFailed    = "failed"
	JobStatusCanceled  = "canceled"
)

// JobInfo is one replication job as SHOW JOBS shows it. Times are wall
// times (zero: unknown, for records written before vcdb kept them).
type JobInfo struct {
	ID          int64
	Type        string
	Description string
	User        string
	// Status is a JobStatus*; RunningStatus says what a job that has not
	// finished is doing ("" once finished).
	Status        string
	RunningStatus string
	Created       time.Time
	Modified      time.Time
	Finished      time.Time
	// FractionCompleted is known only for a finished job (1 when it
	// succeeded): a replication stream has no end to measure against.
	FractionCompleted float64
	FractionKnown     bool
	// Error is the job's last error: why a consumer job paused itself
	// (a version mismatch, retries exhausted), the error it is retrying
	// after, or why a producer job ended.
	Error string
	// Running: the job is live on this node (SHOW JOBS's coordinator_id).
	Running bool
}

func wallTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (t JobTimes) info(ji *JobInfo) {
	ji.Created, ji.Modified, ji.Finished = wallTime(t.Created), wallTime(t.Modified), wallTime(t.Finished)
}

// ConsumerJobInfo describes a consumer job. The replication status (the
// vocabulary of SHOW VIRTUAL CLUSTER ... WITH REPLICATION STATUS) is the
// running status; the job status is CockroachDB's: paused while paused
// (by a user or by itself), succeeded once the failover completed,
// canceled when the VC was dropped, running otherwise (a job retrying
// after a stream error is running, with the error shown).
func ConsumerJobInfo(rec *ConsumerJob) JobInfo {
	ji := JobInfo{
		ID: rec.ID, Type: JobTypeIngestion, Description: rec.Description, User: rec.User,
		Error: rec.Machine.LastError,
	}
	rec.JobTimes.info(&ji)
	switch rec.Machine.Status {
	case StatusComplete:
		ji.Status = JobStatusSucceeded
		ji.FractionCompleted, ji.FractionKnown = 1, true
	case StatusCancelled:
		ji.Status = JobStatusCanceled
	case StatusPaused:
		ji.Status, ji.RunningStatus, ji.Running = JobStatusPaused, string(rec.Machine.Status), true
	default:
		ji.Status, ji.RunningStatus, ji.Running = JobStatusRunning, string(rec.Machine.Status), true
	}
	if ji.Description == "" {
		// A record written before descriptions were kept.
		ji.Description = fmt.Sprintf("replication of virtual cluster %s into %s", rec.SourceTenantName, rec.TenantName)
	}
	return ji
}

// ProducerJobInfo describes a producer job. A stream that completed
// successfully (the standby failed over) and a retention job keep
// protecting history until they expire, so they are still running
// ("retaining history"); a stream the standby dropped (or whose
// protection failed) has failed, as has one that expired.
func ProducerJobInfo(j *ProducerJob) JobInfo {
	ji := JobInfo{ID: j.ID, Type: JobTypeProducer, User: j.User}
	j.JobTimes.info(&ji)
	if j.Kind == ProducerKindRetention {
		ji.Description = fmt.Sprintf("history retention for failback of virtual cluster %s", j.TenantName)
	} else {
		ji.Description = fmt.Sprintf("replication stream of virtual cluster %s", j.TenantName)
	}
	switch j.Status {
	case ProducerRunning:
		ji.Status, ji.RunningStatus, ji.Running = JobStatusRunning, "streaming", true
	case ProducerRetaining:
		ji.Status, ji.Running = JobStatusRunning, true
		ji.RunningStatus = fmt.Sprintf("retaining history until %s", wallTime(j.ExpiresAt).Format(time.RFC3339))
	case ProducerFailed:
		ji.Status = JobStatusFailed
		ji.Error = "the replication stream ended unsuccessfully: the standby dropped it, or its history could not be protected"
	case ProducerExpired:
		ji.Status = JobStatusFailed
		ji.Error = fmt.Sprintf("replication stream expired: no heartbeat from the standby within the expiration window (%s)", j.ExpirationWindow)
	default:
		ji.Status = j.Status
	}
	return ji
}
