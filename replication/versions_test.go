package replication

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// TestCheckVersions: a standby replicates a source VC at its own version
// or the release before (CONTRACT §6); anything else is 55000, marked as a
// version mismatch; unknown versions are not checked.
func TestCheckVersions(t *testing.T) {
	for _, tc := range []struct {
		source, standby string
		ok              bool
	}{
		{"25.2", "25.2", true},
		{"25.1", "25.2", true},
		{"24.3", "25.1", true},
		{"25.4", "26.1", true},
		{"", "25.2", true},
		{"25.2", "", true},
		{"25.3", "25.2", false}, // newer than the standby
		{"26.1", "25.4", false},
		{"24.3", "25.2", false}, // two releases behind
		{"24.2", "25.1", false},
		{"garbage", "25.2", false},
	} {
		err := checkVersionStrings(tc.source, tc.standby)
		if (err == nil) != tc.ok {
			t.Errorf("source %q, standby %q: %v, want ok=%t", tc.source, tc.standby, err, tc.ok)
		}
		if err == nil {
			continue
		}
		code := pgerror.GetPGCode(err)
		if tc.source == "garbage" {
			if code != pgcode.InvalidParameterValue {
				t.Errorf("source %q: code %s", tc.source, code)
			}
			continue
		}
		if code != pgcode.ObjectNotInPrerequisiteState || !IsVersionMismatch(err) {
			t.Errorf("source %q, standby %q: code %s, mismatch %t", tc.source, tc.standby, code, IsVersionMismatch(err))
		}
	}
}

// TestChooseFraming: v2 needs both the source VC at 25.2 and a consumer
// that decodes it.
func TestChooseFraming(t *testing.T) {
	v251, v252 := tenant.Version{Year: 25, Release: 1}, tenant.Version{Year: 25, Release: 2}
	for _, tc := range []struct {
		source tenant.Version
		max    byte
		want   byte
	}{
		{v252, FramingV2, FramingV2},
		{v251, FramingV2, FramingV1},
		{v252, FramingV1, FramingV1},
		{v252, 0, FramingV1},
		{tenant.Version{}, FramingV2, FramingV1},
		{tenant.Version{Year: 26, Release: 1}, FramingV2, FramingV2},
	} {
		if got := chooseFraming(tc.source, tc.max); got != tc.want {
			t.Errorf("source %s, consumer max %d: v%d, want v%d", tc.source, tc.max, got, tc.want)
		}
	}
	if SupportedFraming() != FramingV2 || tenant.Binary().Less(FramingV2ClusterVersion) {
		t.Fatalf("a %s binary supports framing v%d", tenant.Binary(), SupportedFraming())
	}
	// A binary running as the previous release announces v1 only.
	restore := tenant.TestingSetBinaryVersion(v251)
	defer restore()
	if SupportedFraming() != FramingV1 {
		t.Fatalf("a %s binary supports framing v%d", tenant.Binary(), SupportedFraming())
	}
}

// TestVersionRefusalAtCreate: the source's VC version reaches the
// standby's check, whose refusal fails CREATE synchronously, creates
// nothing and ends the source's producer job; the standby's version
// reaches the producer job.
func TestVersionRefusalAtCreate(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	env := newTestEnv(t, defaultEnvOptions())
	p := env.addCluster("primary")
	id := p.createVC("main")
	p.setVersion(id, tenant.Version{Year: 26, Release: 1})
	s := env.addCluster("standby")
	s.setVersion(tenant.SystemID, tenant.Version{Year: 25, Release: 2})
	ctx := context.Background()
	_, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"})
	if pgerror.GetPGCode(err) != pgcode.ObjectNotInPrerequisiteState || !IsVersionMismatch(err) {
		t.Fatalf("got %v", err)
	}
	if _, err := s.records.GetByName(ctx, nil, "main"); pgerror.GetPGCode(err) != pgcode.UndefinedObject {
		t.Fatalf("a refused CREATE left a VC behind: %v", err)
	}
	jobs, err := p.producer.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].Status != ProducerFailed || jobs[0].ConsumerVersion != "25.2" || jobs[0].ConsumerMaxFraming != FramingV2 {
		t.Fatalf("producer jobs %+v", jobs)
	}
	if len(p.eng.ProtectedTimestamps()) != 0 {
		t.Fatal("the abandoned stream still protects the source")
	}
}

// TestHeartbeatRequestWire: the JSON form round-trips, and a bare
// retained time (a peer that sends only that) is still understood.
func TestHeartbeatRequestWire(t *testing.T) {
	ts := kv.Timestamp{WallTime: 1700000000000000000, Logical: 3}
	r, err := DecodeHeartbeatRequest(HeartbeatRequest{RetainedTime: ts, ConsumerVersion: "25.2"}.Encode())
	if err != nil || r.RetainedTime != ts || r.ConsumerVersion != "25.2" {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = DecodeHeartbeatRequest(ts.String())
	if err != nil || r.RetainedTime != ts || r.ConsumerVersion != "" {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{"", "{", `{"consumer_version":"25.2"}`, "x"} {
		if _, err := DecodeHeartbeatRequest(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// TestVersionCheckAtReconnect: a source VC finalized past the standby
// while the stream was down is caught when the consumer reconnects (the
// session's check before streaming, or the producer's at the partition's
// start): the job pauses with both versions in its last error, without a
// round of retries, and the version it reported reaches the producer.
func TestVersionCheckAtReconnect(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	env := newTestEnv(t, defaultEnvOptions())
	p := env.addCluster("primary")
	id := p.createVC("main")
	v252 := tenant.Version{Year: 25, Release: 2}
	p.setVersion(id, v252)
	s := env.addCluster("standby")
	s.setVersion(tenant.SystemID, v252)
	ctx := context.Background()
	if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"}); err != nil {
		t.Fatal(err)
	}
	s.waitReplicated("main", p.eng.Now(), 30*time.Second)
	env.refuseDial.Store(true)
	env.cutStreams()
	p.setVersion(id, tenant.Version{Year: 25, Release: 3})
	env.refuseDial.Store(false)
	succeedsSoon(t, 30*time.Second, func() error {
		st, err := s.consumer.Status(ctx, s.vc("main").ID)
		if err != nil {
			return err
		}
		if st.Status != StatusPaused || !strings.Contains(st.LastError, "at version 25.3") || !strings.Contains(st.LastError, "at version 25.2") {
			return errors.Newf("status %s, last error %q", st.Status, st.LastError)
		}
		return nil
	})
	job, err := s.consumer.Job(ctx, s.jobOf("main"))
	if err != nil {
		t.Fatal(err)
	}
	if job.Machine.Retries > env.opts.retry.MaxRetries {
		t.Fatalf("the job paused only after its retries ran out (%d)", job.Machine.Retries)
	}
}

// TestVersionKeyWatch: with ProducerConfig.VersionKey, the producer acts
// on the source VC's version as it streams it: a new version allowing v2
// switches the framing at the next frame (the periodic re-read is off
// here), and a version the standby cannot run ends the stream before it is
// sent, so the standby never holds it, and the job pauses.
func TestVersionKeyWatch(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	env := newTestEnv(t, defaultEnvOptions())
	p := env.addCluster("primary")
	id := p.createVC("main")
	v251, v252 := tenant.Version{Year: 25, Release: 1}, tenant.Version{Year: 25, Release: 2}
	p.setVersion(id, v251)
	p.producer.cfg.VersionKey = []byte("version")
	p.producer.cfg.VersionCheckInterval = time.Hour
	s := env.addCluster("standby")
	s.setVersion(tenant.SystemID, v252)
	ctx := context.Background()
	if _, err := p.write(id, [][2]string{{"version", "25.1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "inproc://primary"}); err != nil {
		t.Fatal(err)
	}
	s.waitReplicated("main", p.eng.Now(), 30*time.Second)
	framing := func() int64 {
		for _, m := range s.consumer.Metrics() {
			return m.FramingVersion
		}
		return 0
	}
	if f := framing(); f != int64(FramingV1) {
		t.Fatalf("framing v%d", f)
	}
	ts, err := p.write(id, [][2]string{{"version", "25.2"}})
	if err != nil {
		t.Fatal(err)
	}
	s.waitReplicated("main", ts, 30*time.Second)
	succeedsSoon(t, 30*time.Second, func() error {
		if f := framing(); f != int64(FramingV2) {
			return errors.Newf("framing v%d", f)
		}
		return nil
	})
	if _, err := p.write(id, [][2]string{{"version", "25.3"}, {"other", "x"}}); err != nil {
		t.Fatal(err)
	}
	succeedsSoon(t, 30*time.Second, func() error {
		st, err := s.consumer.Status(ctx, s.vc("main").ID)
		if err != nil {
			return err
		}
		if st.Status != StatusPaused || !strings.Contains(st.LastError, "at version 25.3") {
			return errors.Newf("status %s, last error %q", st.Status, st.LastError)
		}
		return nil
	})
	sid := s.vc("main").ID
	err = s.eng.Export(ctx, tenantSpan(sid), kv.Timestamp{}, s.eng.Now(), func(v kv.Version) error {
		if string(v.Value) == "25.3" {
			return errors.Newf("the standby holds version 25.3 at %s", v.Timestamp)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
