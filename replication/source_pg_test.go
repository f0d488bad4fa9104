package replication

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// fakeSQLServer is a minimal pgwire server standing in for the SQL layer's
// glue: it answers exactly the five statements of the stream protocol by
// calling a Producer, as the crdb_internal builtins will. It lets the
// pgconn Source be tested over real TCP before the SQL layer exists.
type fakeSQLServer struct {
	ln    net.Listener
	p     func() *Producer
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startFakeSQLServer(t *testing.T, p func() *Producer) *fakeSQLServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeSQLServer{ln: ln, p: p, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
		}
	}()
	return s
}

func (s *fakeSQLServer) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeSQLServer) serve(c net.Conn) {
	defer c.Close()
	be := pgproto3.NewBackend(c, c)
	for {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		switch msg.(type) {
		case *pgproto3.SSLRequest:
			if _, err := c.Write([]byte("N")); err != nil {
				return
			}
			continue
		case *pgproto3.CancelRequest:
			return
		}
		break
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if be.Flush() != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var query string
	var bind *pgproto3.Bind
	failed := false
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.Parse:
			query = m.Query
			be.Send(&pgproto3.ParseComplete{})
		case *pgproto3.Bind:
			b := *m
			b.Parameters = append([][]byte(nil), m.Parameters...)
			for i := range b.Parameters {
				b.Parameters[i] = append([]byte(nil), m.Parameters[i]...)
			}
			bind = &b
			be.Send(&pgproto3.BindComplete{})
		case *pgproto3.Describe:
			be.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("r"), DataTypeOID: oidBytea, DataTypeSize: -1, TypeModifier: -1, Format: fmtBinary}}})
		case *pgproto3.Execute:
			if failed {
				continue
			}
			if err := s.execute(ctx, be, query, bind); err != nil {
				if ctx.Err() != nil {
					return
				}
				// As the wire server does (server/errors.go), the
				// constraint name travels in the 'n' field.
				code := pgerror.GetPGCode(err)
				be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: code.String(), Message: err.Error(),
					ConstraintName: pgerror.GetConstraintName(err)})
				failed = true
			}
		case *pgproto3.Sync:
			failed = false
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			if be.Flush() != nil {
				return
			}
		case *pgproto3.Terminate:
			return
		}
	}
}

func (s *fakeSQLServer) execute(ctx context.Context, be *pgproto3.Backend, query string, b *pgproto3.Bind) error {
	p := s.p()
	args := b.Parameters
	row := func(v []byte) error {
		be.Send(&pgproto3.DataRow{Values: [][]byte{v}})
		return nil
	}
	var out []byte
	var err error
	switch query {
	case StmtStartReplicationStream:
		out, err = p.StartReplicationStream(ctx, string(args[0]), args[1])
	case StmtHeartbeat:
		id, _ := strconv.ParseInt(string(args[0]), 10, 64)
		out, err = p.HeartbeatReplicationStream(ctx, id, string(args[1]))
	case StmtCompleteStream:
		id, _ := strconv.ParseInt(string(args[0]), 10, 64)
		ok, _ := strconv.ParseBool(string(args[1]))
		err = p.CompleteReplicationStream(ctx, id, ok)
		out = []byte{}
	case StmtPriorDetails:
		out, err = p.ReplicationPriorDetails(ctx, string(args[0]))
	case StmtStreamPartition:
		id, _ := strconv.ParseInt(string(args[0]), 10, 64)
		// Each frame is one DataRow, flushed at once (no buffering).
		return p.StreamPartition(ctx, id, args[1], func(frame []byte) error {
			be.Send(&pgproto3.DataRow{Values: [][]byte{frame}})
			return be.Flush()
		})
	default:
		return pgerror.Newf(pgcode.Syntax, "unexpected statement %q", query)
	}
	if err != nil {
		return err
	}
	_ = row(out)
	be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
	return nil
}

// TestPGSource replicates through the pgconn Source over loopback TCP,
// with a connection cut in the middle, and checks errors keep their
// SQLSTATE across the wire.
func TestPGSource(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	env := newTestEnv(t, defaultEnvOptions())
	p := env.addCluster("primary")
	id := p.createVC("main")
	srv := startFakeSQLServer(t, func() *Producer { return env.cluster("primary").producer })
	t.Cleanup(srv.close)
	cfg, err := pgconn.ParseConfig("postgres://repl@" + srv.ln.Addr().String() + "/defaultdb?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	s := env.addCluster("standby")
	s.consumer.cfg.Dial = func(ctx context.Context, uri string) (Source, error) { return NewPGSource(cfg), nil }
	ctx := context.Background()

	if _, err := p.write(id, [][2]string{{"a", "1"}, {"b", "2"}}); err != nil {
		t.Fatal(err)
	}
	_, err = s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "nosuch", SourceURI: "postgres://repl:secret@host:26257/?sslrootcert=PEM"})
	if code := pgerror.GetPGCode(err); code != pgcode.UndefinedObject {
		t.Fatalf("unknown source VC over pgwire: got %v (%s)", err, code)
	}
	if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "postgres://repl:secret@host:26257/?sslrootcert=PEM"}); err != nil {
		t.Fatal(err)
	}
	s.waitReplicated("main", p.eng.Now(), 30*time.Second)
	// Cut every server-side connection: the consumer reconnects.
	srv.mu.Lock()
	for c := range srv.conns {
		_ = c.Close()
	}
	srv.mu.Unlock()
	last, err := p.write(id, [][2]string{{"a", "10"}, {"c", "3"}, {"b", ""}})
	if err != nil {
		t.Fatal(err)
	}
	s.waitReplicated("main", last, 30*time.Second)
	st, err := s.consumer.Status(ctx, s.vc("main").ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.SourceURI != "postgres://repl@host:26257?redacted" {
		t.Fatalf("source URI not redacted: %s", st.SourceURI)
	}
	jobID := s.jobOf("main")
	ft, err := s.consumer.Complete(ctx, "main", FailoverTarget{Latest: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.consumer.WaitForJob(ctx, jobID); err != nil {
		t.Fatal(err)
	}
	rec, _ := s.consumer.Job(ctx, jobID)
	if a, b := p.fingerprint("main", rec.Machine.StartTime, ft), s.fingerprint("main", rec.Machine.StartTime, ft); a != b {
		t.Fatal("fingerprints differ after replicating over pgwire")
	}
	if a, b := p.fingerprint("main", kv.Timestamp{}, ft), s.fingerprint("main", kv.Timestamp{}, ft); a != b {
		t.Fatal("latest fingerprints differ after replicating over pgwire")
	}
	// The failover told the source, over pgwire, to complete the stream.
	jobs, err := p.producer.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].Status != ProducerRetaining {
		t.Fatalf("producer jobs after failover: %+v", jobs)
	}
}

// TestPGSourceVersionMismatchPauses checks that the source's version
// refusal keeps its meaning over pgwire: when the source VC is upgraded
// past what the standby can run, the producer ends the stream with a 55000
// naming VersionConstraintName, and the consumer pauses the job at its
// first stream error (one error counted, never "replication error" and a
// retry), with the refusal as its last error.
func TestPGSourceVersionMismatchPauses(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	env := newTestEnv(t, defaultEnvOptions())
	p := env.addCluster("primary")
	id := p.createVC("main")
	srv := startFakeSQLServer(t, func() *Producer { return env.cluster("primary").producer })
	t.Cleanup(srv.close)
	cfg, err := pgconn.ParseConfig("postgres://repl@" + srv.ln.Addr().String() + "/defaultdb?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	s := env.addCluster("standby")
	v251, v252 := tenant.Version{Year: 25, Release: 1}, tenant.Version{Year: 25, Release: 2}
	p.setVersion(id, v251)
	s.setVersion(tenant.SystemID, v251)
	s.consumer.cfg.Dial = func(ctx context.Context, uri string) (Source, error) { return NewPGSource(cfg), nil }
	var paused atomic.Int32
	s.consumer.cfg.Hooks.Paused = func(string, string) { paused.Add(1) }
	ctx := context.Background()
	if _, err := s.consumer.Create(ctx, CreateRequest{TenantName: "main", SourceTenantName: "main", SourceURI: "postgres://repl@host:26257/"}); err != nil {
		t.Fatal(err)
	}
	s.waitReplicated("main", p.eng.Now(), 30*time.Second)
	jobID := s.jobOf("main")

	// The source VC moves to 25.2; the standby's system VC stays at 25.1.
	p.setVersion(id, v252)
	if _, err := p.write(id, [][2]string{{"a", "1"}}); err != nil {
		t.Fatal(err)
	}
	var rec *ConsumerJob
	deadline := time.Now().Add(30 * time.Second)
	for {
		if rec, err = s.consumer.Job(ctx, jobID); err != nil {
			t.Fatal(err)
		}
		if rec.Machine.Status == StatusPaused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not paused after the source's version refusal: %+v", rec.Machine)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if rec.Machine.Retries != 1 {
		t.Fatalf("the version refusal was retried: %d stream errors before the pause (last: %s)", rec.Machine.Retries, rec.Machine.LastError)
	}
	if paused.Load() != 1 {
		t.Fatalf("Paused hook called %d times", paused.Load())
	}
	// The last error is the source's refusal, naming both versions; SHOW
	// JOBS shows the job paused with it.
	for _, want := range []string{"25.2", "25.1"} {
		if !strings.Contains(rec.Machine.LastError, want) {
			t.Fatalf("last error does not name version %s: %s", want, rec.Machine.LastError)
		}
	}
	if ji := ConsumerJobInfo(rec); ji.Status != JobStatusPaused || ji.Error != rec.Machine.LastError {
		t.Fatalf("SHOW JOBS of the paused job: %+v", ji)
	}
}

// TestPGErrorVersionMark checks pgError's recognition: only a 55000 that
// names VersionConstraintName is a version refusal.
func TestPGErrorVersionMark(t *testing.T) {
	for _, tc := range []struct {
		code, constraint string
		want             bool
	}{
		{pgcode.ObjectNotInPrerequisiteState.String(), VersionConstraintName, true},
		{pgcode.ObjectNotInPrerequisiteState.String(), "", false},
		{pgcode.ObjectNotInPrerequisiteState.String(), "other", false},
		{pgcode.UniqueViolation.String(), VersionConstraintName, false},
	} {
		err := pgError(&pgconn.PgError{Code: tc.code, Message: "m", ConstraintName: tc.constraint})
		if got := IsVersionMismatch(err); got != tc.want {
			t.Errorf("code %s constraint %q: IsVersionMismatch = %v", tc.code, tc.constraint, got)
		}
		if got := pgerror.GetPGCode(err).String(); got != tc.code {
			t.Errorf("code %s lost: %s", tc.code, got)
		}
	}
	if !IsVersionMismatch(CheckVersions(tenant.Version{Year: 25, Release: 2}, tenant.Version{Year: 25, Release: 1})) ||
		pgerror.GetConstraintName(CheckVersions(tenant.Version{Year: 25, Release: 2}, tenant.Version{Year: 25, Release: 1})) != VersionConstraintName {
		t.Fatal("CheckVersions' refusal lacks its mark or constraint name")
	}
}
