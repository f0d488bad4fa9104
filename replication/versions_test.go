package replication

import (
	"context"
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/vcdb/vcdb/tenant"
)

// TestVersionHooks: the source's VC version reaches the standby's check,
// whose refusal fails CREATE synchronously, creates nothing and ends the
// source's producer job; the standby's version reaches the producer job.
func TestVersionHooks(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	env := newTestEnv(t, defaultEnvOptions())
	p := env.addCluster("primary")
	p.createVC("main")
	p.producer.cfg.TenantVersion = func(context.Context, tenant.ID) (string, error) { return "26.1", nil }
	s := env.addCluster("standby")
	var seen string
	s.consumer.cfg.Version = "25.2"
	s.consumer.cfg.Hooks.CheckSourceVersion = func(v string) error {
		seen = v
		if v != "25.2" {
			return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState, "source virtual cluster version %s is newer than this cluster's 25.2", v)
		}
		return nil
	}
	ctx := context.Background()
	_, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"})
	if pgerror.GetPGCode(err) != pgcode.ObjectNotInPrerequisiteState || seen != "26.1" {
		t.Fatalf("got %v, seen %q", err, seen)
	}
	if _, err := s.records.GetByName(ctx, nil, "main"); pgerror.GetPGCode(err) != pgcode.UndefinedObject {
		t.Fatalf("a refused CREATE left a VC behind: %v", err)
	}
	jobs, err := p.producer.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].Status != ProducerFailed || jobs[0].ConsumerVersion != "25.2" {
		t.Fatalf("producer jobs %+v", jobs)
	}
	if len(p.eng.ProtectedTimestamps()) != 0 {
		t.Fatal("the abandoned stream still protects the source")
	}
}
