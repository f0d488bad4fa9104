package replication

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/vcdb/vcdb/kv"
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
				code := pgerror.GetPGCode(err)
				be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: code.String(), Message: err.Error()})
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
