package server

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgproto3"
)

// dialStartup opens a connection and completes startup.
func dialStartup(t *testing.T, addr string) *wireClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &wireClient{nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
	c.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "root"}})
	if err := c.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	if out := c.receiveStartup(false); !strings.Contains(out, "ReadyForQuery") {
		t.Fatalf("startup failed: %s", out)
	}
	return c
}

// receiveAll reads until the server closes the connection and returns
// the message types (errors with their code).
func (c *wireClient) receiveAll() []string {
	var out []string
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			return out
		}
		name := messageName(msg)
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			name += " " + e.Severity + " " + e.Code
		}
		out = append(out, name)
	}
}

func (c *wireClient) query(t *testing.T, q string) {
	t.Helper()
	c.fe.Send(&pgproto3.Query{String: q})
	if err := c.fe.Flush(); err != nil {
		t.Fatal(err)
	}
}

func waitRunning(t *testing.T, srv *Server, c *wireClient) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !srv.isRunning(c.key.ProcessID) {
		if time.Now().After(deadline) {
			t.Fatal("statement did not start")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDrain: a drain closes idle connections at once (FATAL 57P01), lets
// a running statement finish and deliver its result before closing that
// connection, refuses new connections, and returns when none is left.
func TestDrain(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	srv, addr := startTestServer(t, &fakeEngine{}, Config{})
	busy := dialStartup(t, addr)
	idle := dialStartup(t, addr)
	busy.query(t, "sleepms 300")
	waitRunning(t, srv, busy)

	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		drained <- srv.Drain(ctx)
	}()
	if got := strings.Join(idle.receiveAll(), ","); got != "ErrorResponse FATAL 57P01" {
		t.Errorf("idle connection got %s", got)
	}
	if got, want := strings.Join(busy.receiveAll(), ","),
		"RowDescription,DataRow,CommandComplete,ReadyForQuery,ErrorResponse FATAL 57P01"; got != want {
		t.Errorf("busy connection got %s, want %s", got, want)
	}
	if err := <-drained; err != nil {
		t.Fatalf("drain: %v", err)
	}
	if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		// The listener is closed; at most the kernel accepted before
		// the close, and then the server closes it at once.
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		if n, _ := nc.Read(make([]byte, 1)); n != 0 {
			t.Error("a draining server answered a new connection")
		}
		nc.Close()
	}
}

// TestDrainTimeout: a statement that outlives the drain timeout is
// cancelled by Close and its client gets one FATAL 57P01.
func TestDrainTimeout(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	srv, addr := startTestServer(t, &fakeEngine{}, Config{})
	c := dialStartup(t, addr)
	c.query(t, "sleep")
	waitRunning(t, srv, c)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("drain returned %v", err)
	}
	if n := srv.NumConns(); n != 1 {
		t.Fatalf("%d connections after the drain timeout", n)
	}
	srv.Close()
	if got, want := strings.Join(c.receiveAll(), ","), "RowDescription,ErrorResponse FATAL 57P01"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if n := srv.NumConns(); n != 0 {
		t.Fatalf("%d connections after Close", n)
	}
}

// TestClientGoneCancels: when the client hangs up, the read loop cancels
// the running statement at once (it does not wait for the statement).
func TestClientGoneCancels(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	srv, addr := startTestServer(t, &fakeEngine{}, Config{})
	c := dialStartup(t, addr)
	c.query(t, "sleep")
	waitRunning(t, srv, c)
	_ = c.nc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for srv.NumConns() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connection of a client that hung up is still open")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPipelineBackPressure: a client pipelining far more than the queue's
// byte bound gets every answer (the read loop waits for the processor
// instead of queueing without bound, and never deadlocks with it).
func TestPipelineBackPressure(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	_, addr := startTestServer(t, &fakeEngine{}, Config{})
	c := dialStartup(t, addr)
	// 200 Bind/Execute pairs with 16 KiB parameters and no Sync until the
	// end: about 3 MiB, three times maxQueuedBytes.
	big := strings.Repeat("x", 16<<10)
	c.fe.Send(&pgproto3.Parse{Name: "e", Query: "echo $1"})
	const n = 200
	go func() {
		for i := 0; i < n; i++ {
			c.fe.Send(&pgproto3.Bind{PreparedStatement: "e", Parameters: [][]byte{[]byte(big)}})
			c.fe.Send(&pgproto3.Execute{})
			if i%20 == 0 {
				_ = c.fe.Flush()
			}
		}
		c.fe.Send(&pgproto3.Sync{})
		_ = c.fe.Flush()
	}()
	rows := 0
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			if string(m.Values[0]) != big {
				t.Fatal("wrong value")
			}
			rows++
		case *pgproto3.ErrorResponse:
			t.Fatalf("error: %s", m.Message)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	if rows != n {
		t.Fatalf("got %d rows, want %d", rows, n)
	}
}

// TestServiceStopEndsConnections: when a virtual cluster's service stops
// (the session's Done closes), an idle connection ends at once with FATAL
// 57P01 naming the cluster, and a busy one after its statement.
func TestServiceStopEndsConnections(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	eng := &fakeEngine{}
	srv, addr := startTestServer(t, eng, Config{})
	idle := dialStartup(t, addr)
	busy := dialStartup(t, addr)
	busy.query(t, "sleepms 200")
	waitRunning(t, srv, busy)
	eng.stopSessions()
	msg, err := idle.fe.Receive()
	e, ok := msg.(*pgproto3.ErrorResponse)
	if err != nil || !ok || e.Severity != "FATAL" || e.Code != "57P01" ||
		e.Message != `terminating connection: the SQL service of virtual cluster "system" was stopped` {
		t.Fatalf("idle connection got %#v, %v", msg, err)
	}
	if got, want := strings.Join(busy.receiveAll(), ","),
		"RowDescription,DataRow,CommandComplete,ReadyForQuery,ErrorResponse FATAL 57P01"; got != want {
		t.Errorf("busy connection got %s, want %s", got, want)
	}
}
