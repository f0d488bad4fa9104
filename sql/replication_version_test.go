package sql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/replication"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/tenant"
)

// forceVersion writes VC id's cluster version directly, as a store left by
// another binary would hold it, with cluster.preserve_downgrade_option at
// the same version in the same transaction so that the auto-finalizer
// leaves the system VC where the test put it.
func forceVersion(t *testing.T, h *Host, id tenant.ID, v string) {
	t.Helper()
	err := tenant.RunTxn(context.Background(), h.kv, func(txn *kv.Txn) error {
		keys := catalog.Keys{Prefix: tenant.Prefix(id)}
		if err := catalog.PutSetting(txn, keys, catalog.VersionSetting, v); err != nil {
			return err
		}
		return catalog.PutSetting(txn, keys, "cluster.preserve_downgrade_option", v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func execErr(s *Session, sql string) error {
	stmts, err := s.Parse(sql)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if _, _, err := runStatement(context.Background(), s, st, false); err != nil {
			return err
		}
	}
	return nil
}

func waitFor(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplicationVersionRules runs two Hosts in one process, the standby
// reaching the primary's producer in-process, through the SQL statements
// and the Host's version hooks: CREATE ... FROM REPLICATION refused when
// the standby's system VC is behind the source VC (55000, both versions,
// nothing created); the primary's application VC refused to finalize past
// its standby's system version while the stream runs, and allowed once
// the standby's heartbeat says it was finalized; the standby's VC following
// the source's version by replication; framing v2 once the source VC is at
// 25.2.
func TestReplicationVersionRules(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	knobs := ReplicationKnobs{
		Producer: func(c *replication.ProducerConfig) { c.VersionCheckInterval = 10 * time.Millisecond },
		Consumer: func(c *replication.ConsumerConfig) { c.HeartbeatInterval = 20 * time.Millisecond },
	}
	primary, _, stopP := testHost(t, HostConfig{Replication: knobs})
	defer stopP()
	standby, _, stopS := testHost(t, HostConfig{Replication: knobs,
		Dial: func(context.Context, string) (replication.Source, error) {
			return replication.NewInProcessSource(primary.Producer()), nil
		}})
	defer stopS()
	psys := rootSession(t, primary.System())
	defer psys.Close()
	ssys := rootSession(t, standby.System())
	defer ssys.Close()
	mustExec(t, psys, "CREATE VIRTUAL CLUSTER main")
	rec, err := primary.store.GetByName(ctx, nil, "main")
	if err != nil {
		t.Fatal(err)
	}
	mainID := rec.ID

	// Standby behind the source VC: refused, nothing created.
	forceVersion(t, primary, tenant.SystemID, "25.2")
	forceVersion(t, primary, mainID, "25.2")
	forceVersion(t, standby, tenant.SystemID, "25.1")
	const create = "CREATE VIRTUAL CLUSTER main FROM REPLICATION OF main ON 'postgresql://root@127.0.0.1:1'"
	err = execErr(ssys, create)
	if pgerror.GetPGCode(err) != pgcode.ObjectNotInPrerequisiteState ||
		!strings.Contains(err.Error(), "at version 25.2") || !strings.Contains(err.Error(), "at version 25.1") {
		t.Fatalf("CREATE with the standby behind: %v", err)
	}
	if _, err := standby.store.GetByName(ctx, nil, "main"); pgerror.GetPGCode(err) != pgcode.UndefinedObject {
		t.Fatalf("a refused CREATE left a VC: %v", err)
	}

	// Both at 25.1: the stream runs, in framing v1.
	forceVersion(t, primary, mainID, "25.1")
	mustExec(t, ssys, create)
	sRec, err := standby.store.GetByName(ctx, nil, "main")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replicating", func() error {
		st, err := standby.Consumer().Status(ctx, sRec.ID)
		if err != nil || st == nil || st.Status != replication.StatusReplicating {
			return fmt.Errorf("status %+v %v", st, err)
		}
		return nil
	})
	framing := func() int64 {
		for _, m := range standby.Consumer().Metrics() {
			if m.TenantName == "main" {
				return m.FramingVersion
			}
		}
		return 0
	}
	if f := framing(); f != int64(replication.FramingV1) {
		t.Fatalf("framing v%d with a 25.1 source VC", f)
	}

	// The primary's VC may not go past its standby's system version.
	v252 := tenant.Version{Year: 25, Release: 2}
	err = primary.checkFinalizeWithStreams(ctx, mainID, v252)
	if pgerror.GetPGCode(err) != pgcode.ObjectNotInPrerequisiteState ||
		!strings.Contains(err.Error(), "to version 25.2") || !strings.Contains(err.Error(), "at version 25.1") {
		t.Fatalf("finalize past the standby: %v", err)
	}
	if err := primary.checkFinalizeWithStreams(ctx, mainID, tenant.Version{Year: 25, Release: 1}); err != nil {
		t.Fatal(err)
	}

	// The standby's system VC is finalized: its next heartbeat tells the
	// producer, and the finalization is allowed.
	forceVersion(t, standby, tenant.SystemID, "25.2")
	waitFor(t, "the producer to learn the standby's version", func() error {
		return primary.checkFinalizeWithStreams(ctx, mainID, v252)
	})

	// The source VC finalizes: the standby's VC follows by replication,
	// and the stream switches to framing v2.
	forceVersion(t, primary, mainID, "25.2")
	waitFor(t, "the standby's VC at 25.2 by replication", func() error {
		v, err := standby.clusterVersion(ctx, sRec.ID)
		if err != nil || v != v252 {
			return fmt.Errorf("standby's main at %q (%v)", v, err)
		}
		return nil
	})
	waitFor(t, "framing v2", func() error {
		if f := framing(); f != int64(replication.FramingV2) {
			return fmt.Errorf("framing v%d", f)
		}
		return nil
	})
}

// TestFailoverLatestCleanTime: COMPLETE REPLICATION TO LATEST returns the
// replicated time floored to its wall nanosecond, logical 0 (polish item
// 14: never `….2147483647`), and the failover completes at it.
func TestFailoverLatestCleanTime(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	knobs := ReplicationKnobs{Consumer: func(c *replication.ConsumerConfig) { c.HeartbeatInterval = 20 * time.Millisecond }}
	primary, _, stopP := testHost(t, HostConfig{Replication: knobs})
	defer stopP()
	standby, _, stopS := testHost(t, HostConfig{Replication: knobs,
		Dial: func(context.Context, string) (replication.Source, error) {
			return replication.NewInProcessSource(primary.Producer()), nil
		}})
	defer stopS()
	psys := rootSession(t, primary.System())
	defer psys.Close()
	ssys := rootSession(t, standby.System())
	defer ssys.Close()
	mustExec(t, psys, "CREATE VIRTUAL CLUSTER main")
	mustExec(t, ssys, "CREATE VIRTUAL CLUSTER main FROM REPLICATION OF main ON 'postgresql://root@127.0.0.1:1'")
	rec, err := standby.store.GetByName(ctx, nil, "main")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replicating", func() error {
		st, err := standby.Consumer().Status(ctx, rec.ID)
		if err != nil || st == nil || st.Status != replication.StatusReplicating || st.ReplicatedTime.IsEmpty() {
			return fmt.Errorf("status %+v %v", st, err)
		}
		return nil
	})
	rows, _, err := execPrepared(ssys, mustPrepare(t, ssys, "ALTER VIRTUAL CLUSTER main COMPLETE REPLICATION TO LATEST"))
	if err != nil || len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("%v %v", rows, err)
	}
	ft := rows[0][0].String()
	if !strings.HasSuffix(ft, ".0000000000") {
		t.Fatalf("failover_time %s: want a clean time (logical 0)", ft)
	}
	job, err := standby.Consumer().WaitForJob(ctx, rec.ConsumerJobID)
	if err != nil {
		t.Fatal(err)
	}
	if job.Machine.Status != replication.StatusComplete || job.Machine.FailoverTime.Logical != 0 ||
		job.Machine.ReplicatedTime.Less(job.Machine.FailoverTime) {
		t.Fatalf("job %+v", job.Machine)
	}
}
