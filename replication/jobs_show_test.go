package replication

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
)

// TestJobInfoStatuses checks the mapping of replication statuses to
// CockroachDB's job statuses for SHOW JOBS.
func TestJobInfoStatuses(t *testing.T) {
	for _, tc := range []struct {
		st                    Status
		status, runningStatus string
		running, fraction     bool
	}{
		{StatusInitializing, JobStatusRunning, "initializing replication", true, false},
		{StatusInitialScan, JobStatusRunning, "running initial scan", true, false},
		{StatusReplicating, JobStatusRunning, "replicating", true, false},
		{StatusError, JobStatusRunning, "replication error", true, false},
		{StatusPendingFailover, JobStatusRunning, "replication pending failover", true, false},
		{StatusFailingOver, JobStatusRunning, "replication failing over", true, false},
		{StatusPaused, JobStatusPaused, "replication paused", true, false},
		{StatusComplete, JobStatusSucceeded, "", false, true},
		{StatusCancelled, JobStatusCanceled, "", false, false},
	} {
		ji := ConsumerJobInfo(&ConsumerJob{ID: 7, Machine: Machine{Status: tc.st, LastError: "boom"}})
		if ji.Type != JobTypeIngestion || ji.Status != tc.status || ji.RunningStatus != tc.runningStatus ||
			ji.Running != tc.running || ji.FractionKnown != tc.fraction || ji.Error != "boom" {
			t.Errorf("%s: %+v", tc.st, ji)
		}
	}
	for _, tc := range []struct {
		kind, st, status string
		running, err     bool
	}{
		{ProducerKindStream, ProducerRunning, JobStatusRunning, true, false},
		{ProducerKindStream, ProducerRetaining, JobStatusRunning, true, false},
		{ProducerKindRetention, ProducerRetaining, JobStatusRunning, true, false},
		{ProducerKindStream, ProducerFailed, JobStatusFailed, false, true},
		{ProducerKindStream, ProducerExpired, JobStatusFailed, false, true},
	} {
		ji := ProducerJobInfo(&ProducerJob{ID: 3, Kind: tc.kind, TenantName: "main", Status: tc.st})
		if ji.Type != JobTypeProducer || ji.Status != tc.status || ji.Running != tc.running || (ji.Error != "") != tc.err {
			t.Errorf("%s %s: %+v", tc.kind, tc.st, ji)
		}
	}
}

// TestJobTimes checks that job records carry their creation, last
// modification and finish times through the consumer's and producer's
// writes.
func TestJobTimes(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	env := newTestEnv(t, defaultEnvOptions())
	p := env.addCluster("primary")
	p.createVC("main")
	s := env.addCluster("standby")
	ctx := context.Background()
	before := time.Now()
	if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary",
		Description: "CREATE VIRTUAL CLUSTER main FROM REPLICATION OF main ON 'inproc://primary'", User: "u"}); err != nil {
		t.Fatal(err)
	}
	s.waitReplicated("main", p.eng.Now(), 30*time.Second)
	jobID := s.jobOf("main")
	rec, err := s.consumer.Job(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	ji := ConsumerJobInfo(rec)
	if ji.Description != "CREATE VIRTUAL CLUSTER main FROM REPLICATION OF main ON 'inproc://primary'" || ji.User != "u" {
		t.Fatalf("description or user lost: %+v", ji)
	}
	if ji.Created.Before(before.Add(-time.Minute)) || ji.Modified.Before(ji.Created) || !ji.Finished.IsZero() {
		t.Fatalf("times of a running job: %+v", ji)
	}
	pjobs, err := p.producer.Jobs(ctx)
	if err != nil || len(pjobs) != 1 {
		t.Fatalf("producer jobs: %v %v", pjobs, err)
	}
	if pj := ProducerJobInfo(pjobs[0]); pj.Created.IsZero() || pj.Modified.Before(pj.Created) || !pj.Finished.IsZero() {
		t.Fatalf("times of a running producer job: %+v", pj)
	}
	if _, err := s.consumer.Complete(ctx, "main", FailoverTarget{Latest: true}); err != nil {
		t.Fatal(err)
	}
	if rec, err = s.consumer.WaitForJob(ctx, jobID); err != nil {
		t.Fatal(err)
	}
	ji = ConsumerJobInfo(rec)
	if ji.Status != JobStatusSucceeded || ji.Finished.IsZero() || ji.Finished.Before(ji.Created) || ji.Modified.Before(ji.Finished) {
		t.Fatalf("times of a finished job: %+v", ji)
	}
}
