package replication

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/errors"
)

// TestRetentionAndHeartbeats: SET REPLICATION RETENTION moves the
// consumer's protection (the retained time) up behind the replicated time,
// heartbeats move the producer's protection on the source up to it, and a
// failover below the new retained time is refused.
func TestRetentionAndHeartbeats(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	env := newTestEnv(t, defaultEnvOptions())
	p := env.addCluster("primary")
	id := p.createVC("main")
	s := env.addCluster("standby")
	ctx := context.Background()
	if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"}); err != nil {
		t.Fatal(err)
	}
	early := p.eng.Now()
	s.waitReplicated("main", early, 30*time.Second)
	if err := s.consumer.SetRetention(ctx, "main", time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	last, err := p.write(id, [][2]string{{"k", "v"}})
	if err != nil {
		t.Fatal(err)
	}
	s.waitReplicated("main", last, 30*time.Second)
	succeedsSoon(t, 30*time.Second, func() error {
		st, err := s.consumer.Status(ctx, s.vc("main").ID)
		if err != nil {
			return err
		}
		if !early.Less(st.RetainedTime) {
			return errors.Newf("retained time %s not above %s yet", st.RetainedTime, early)
		}
		// The standby's own protection is where the status says.
		for _, pts := range s.eng.ProtectedTimestamps() {
			if pts.Timestamp != st.RetainedTime {
				return errors.Newf("protection at %s, retained time %s", pts.Timestamp, st.RetainedTime)
			}
		}
		jobs, err := p.producer.Jobs(ctx)
		if err != nil {
			return err
		}
		if !early.Less(jobs[0].ProtectedTime) {
			return errors.Newf("source protection still at %s", jobs[0].ProtectedTime)
		}
		return nil
	})
	_, err = s.consumer.Complete(ctx, "main", FailoverTarget{Time: early})
	if pgerror.GetPGCode(err) != pgcode.InvalidParameterValue {
		t.Fatalf("failover below the retained time: %v", err)
	}
}
