package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/datadriven"
	"github.com/jackc/pgx/v5/pgproto3"
)

// startTestServer serves the fake engine on 127.0.0.1:0.
func startTestServer(t testing.TB, eng *fakeEngine, cfg Config) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Route == nil {
		cfg.Route = eng.route
	}
	if cfg.TLS == nil {
		cfg.Insecure = true
	}
	cfg.Logf = t.Logf
	srv := NewServer(cfg)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return srv, ln.Addr().String()
}

// wireClient is one client connection of a wire script.
type wireClient struct {
	nc  net.Conn
	fe  *pgproto3.Frontend
	key *pgproto3.BackendKeyData
}

// TestWire runs the wire scripts in testdata/server/wire against the
// fake engine. Directives:
//
//	dial [conn=NAME]                      open a TCP connection
//	startup [conn=NAME] [k=v ...]         send a StartupMessage (params as
//	                                      k=v; version=N for the protocol
//	                                      word) and print the answer up to
//	                                      ReadyForQuery or ErrorResponse
//	connect [conn=NAME] [k=v ...]         dial + startup (user=root default)
//	send [conn=NAME]                      one JSON frontend message per line
//	send-raw [conn=NAME]                  hex bytes (spaces ignored)
//	until [conn=NAME]                     read messages until each listed
//	                                      type is seen, in order; print them
//	read-byte [conn=NAME]                 read one raw byte
//	cancel [conn=NAME]                    CancelRequest with NAME's key
//	cancel-bad [conn=NAME]                CancelRequest with a wrong key
//	closed [conn=NAME]                    expect the server to close
func TestWire(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	datadriven.Walk(t, "../testdata/server/wire", func(t *testing.T, path string) {
		srv, addr := startTestServer(t, &fakeEngine{}, Config{MaxMessageSize: 1 << 16})
		runWireScript(t, path, srv, addr, nil)
	})
}

// TestWireSQL runs the wire scripts of testdata/server/wire_sql against a
// real in-process node (KV engine in memory, SQL engine, wire server).
func TestWireSQL(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	datadriven.Walk(t, "../testdata/server/wire_sql", func(t *testing.T, path string) {
		node, err := StartNode(context.Background(), NodeConfig{
			InMemory: true, ListenAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Insecure: true, Logf: t.Logf,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer node.Close()
		runWireScript(t, path, node.wire, node.SQLAddr().String(), nil)
	})
}

// runWireScript runs one wire script; f (nil for insecure servers) gives
// the directives of TestAuth their certificates.
func runWireScript(t *testing.T, path string, srv *Server, addr string, f *authFixture) {
	{
		clients := map[string]*wireClient{}
		defer func() {
			for _, c := range clients {
				_ = c.nc.Close()
			}
		}()
		get := func(d *datadriven.TestData) *wireClient {
			name := "c"
			d.MaybeScanArgs(t, "conn", &name)
			c, ok := clients[name]
			if !ok {
				d.Fatalf(t, "no connection %q", name)
			}
			return c
		}
		dial := func(d *datadriven.TestData) *wireClient {
			name := "c"
			d.MaybeScanArgs(t, "conn", &name)
			nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				d.Fatalf(t, "dial: %v", err)
			}
			_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
			c := &wireClient{nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
			clients[name] = c
			return c
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "dial":
				dial(d)
				return ""
			case "connect", "startup":
				var c *wireClient
				if d.Cmd == "connect" {
					c = dial(d)
				} else {
					c = get(d)
				}
				msg := &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{}}
				if d.Cmd == "connect" {
					msg.Parameters["user"] = "root"
				}
				for _, arg := range d.CmdArgs {
					switch arg.Key {
					case "conn", "verbose":
					case "version":
						var v uint32
						fmt.Sscan(arg.Vals[0], &v)
						msg.ProtocolVersion = v
					default:
						msg.Parameters[arg.Key] = strings.Join(arg.Vals, ",")
					}
				}
				if d.Input != "" {
					// Parameter values with spaces: one name=value per line.
					for _, line := range strings.Split(d.Input, "\n") {
						k, v, _ := strings.Cut(line, "=")
						msg.Parameters[k] = v
					}
				}
				buf, err := msg.Encode(nil)
				if err != nil {
					d.Fatalf(t, "%v", err)
				}
				if _, err := c.nc.Write(buf); err != nil {
					d.Fatalf(t, "%v", err)
				}
				return c.receiveStartup(d.HasArg("verbose"))
			case "send":
				c := get(d)
				for _, line := range strings.Split(d.Input, "\n") {
					msg, err := parseFrontendJSON(line)
					if err != nil {
						d.Fatalf(t, "%s: %v", line, err)
					}
					c.fe.Send(msg)
				}
				if err := c.fe.Flush(); err != nil {
					return fmt.Sprintf("send failed: %v", err)
				}
				return ""
			case "login":
				if f == nil {
					d.Fatalf(t, "login needs a secure server")
				}
				return f.login(t, srv, addr, d)
			case "tls":
				c := get(d)
				var cert string
				d.MaybeScanArgs(t, "cert", &cert)
				if f == nil {
					d.Fatalf(t, "tls needs a secure server")
				}
				b, err := c.startTLSClient(f.clientTLS(t, cert))
				if err != nil {
					return fmt.Sprintf("answer %q, TLS handshake failed: %v", b, err)
				}
				return fmt.Sprintf("answer %q", b)
			case "sasl-initial", "sasl-response", "password-message":
				c := get(d)
				switch d.Cmd {
				case "sasl-initial":
					mech := "SCRAM-SHA-256"
					d.MaybeScanArgs(t, "mechanism", &mech)
					c.fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: mech, Data: []byte(d.Input)})
				case "sasl-response":
					c.fe.Send(&pgproto3.SASLResponse{Data: []byte(d.Input)})
				default:
					c.fe.Send(&pgproto3.PasswordMessage{Password: d.Input})
				}
				if err := c.fe.Flush(); err != nil {
					return fmt.Sprintf("send failed: %v", err)
				}
				return ""
			case "send-raw":
				c := get(d)
				b, err := hex.DecodeString(strings.Join(strings.Fields(d.Input), ""))
				if err != nil {
					d.Fatalf(t, "%v", err)
				}
				if _, err := c.nc.Write(b); err != nil {
					return fmt.Sprintf("send failed: %v", err)
				}
				return ""
			case "until":
				c := get(d)
				return c.receiveUntil(t, strings.Fields(d.Input)...)
			case "read-byte":
				c := get(d)
				var b [1]byte
				if _, err := io.ReadFull(c.nc, b[:]); err != nil {
					return fmt.Sprintf("error: %v", err)
				}
				return fmt.Sprintf("%q", b[0])
			case "wait-running":
				// Wait until the connection's statement is executing, so
				// a following cancel has something to cancel.
				c := get(d)
				deadline := time.Now().Add(10 * time.Second)
				for !srv.isRunning(c.key.ProcessID) {
					if time.Now().After(deadline) {
						d.Fatalf(t, "statement did not start")
					}
					time.Sleep(time.Millisecond)
				}
				return ""
			case "statement-state":
				// The cancel directives return after the server closed the
				// cancel connection, which it does after acting on it, so
				// the state is settled here.
				return srv.statementState(get(d).key.ProcessID)
			case "cancel", "cancel-bad":
				c := get(d)
				if c.key == nil {
					d.Fatalf(t, "connection has no BackendKeyData")
				}
				req := &pgproto3.CancelRequest{ProcessID: c.key.ProcessID, SecretKey: c.key.SecretKey}
				if d.Cmd == "cancel-bad" {
					req.SecretKey = []byte{0, 0, 0, 0}
					if string(c.key.SecretKey) == string(req.SecretKey) {
						req.SecretKey = []byte{1, 1, 1, 1}
					}
				}
				nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					d.Fatalf(t, "%v", err)
				}
				defer nc.Close()
				_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
				buf, _ := req.Encode(nil)
				if _, err := nc.Write(buf); err != nil {
					d.Fatalf(t, "%v", err)
				}
				// The server answers a cancel request by closing.
				n, err := nc.Read(make([]byte, 1))
				return fmt.Sprintf("cancel connection closed: read %d bytes, %v", n, err == io.EOF)
			case "closed":
				c := get(d)
				for {
					msg, err := c.fe.Receive()
					if err != nil {
						return "closed"
					}
					t.Logf("extra message before close: %s", formatBackend(msg))
				}
			}
			d.Fatalf(t, "unknown directive %s", d.Cmd)
			return ""
		})
	}
}

// receiveStartup prints the answer to a StartupMessage, up to
// ReadyForQuery or an ErrorResponse. ParameterStatus messages are printed
// only when verbose (they are the same in every script).
func (c *wireClient) receiveStartup(verbose bool) string {
	var out strings.Builder
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			fmt.Fprintf(&out, "receive error: %v\n", err)
			return out.String()
		}
		if k, ok := msg.(*pgproto3.BackendKeyData); ok {
			c.key = &pgproto3.BackendKeyData{ProcessID: k.ProcessID, SecretKey: append([]byte(nil), k.SecretKey...)}
		}
		if _, ok := msg.(*pgproto3.ParameterStatus); !ok || verbose {
			out.WriteString(formatBackend(msg))
			out.WriteByte('\n')
		}
		switch msg.(type) {
		case *pgproto3.ReadyForQuery, *pgproto3.ErrorResponse,
			// Authentication requests wait for the client's answer.
			*pgproto3.AuthenticationSASL, *pgproto3.AuthenticationSASLContinue,
			*pgproto3.AuthenticationCleartextPassword:
			return out.String()
		}
	}
}

// receiveUntil reads backend messages until each of the listed types has
// been seen in order (the last one ends the read), and prints them.
func (c *wireClient) receiveUntil(t *testing.T, types ...string) string {
	var out strings.Builder
	for len(types) > 0 {
		msg, err := c.fe.Receive()
		if err != nil {
			fmt.Fprintf(&out, "receive error: %v\n", err)
			break
		}
		out.WriteString(formatBackend(msg))
		out.WriteByte('\n')
		if messageName(msg) == types[0] {
			types = types[1:]
		}
	}
	return out.String()
}

// formatBackend prints a backend message as JSON, leaving out what varies
// between runs (secret keys, source positions of errors) and empty fields
// of errors.
func formatBackend(msg pgproto3.BackendMessage) string {
	switch m := msg.(type) {
	case *pgproto3.AuthenticationSASLContinue:
		// The nonce and salt are random; print their shape.
		return `{"Type":"AuthenticationSASLContinue","Data":"` + scramShape(string(m.Data)) + `"}`
	case *pgproto3.AuthenticationSASLFinal:
		return `{"Type":"AuthenticationSASLFinal","Data":"` + scramShape(string(m.Data)) + `"}`
	case *pgproto3.BackendKeyData:
		return fmt.Sprintf(`{"Type":"BackendKeyData","ProcessID":%d,"SecretKey":"(%d bytes)"}`, m.ProcessID, len(m.SecretKey))
	case *pgproto3.ErrorResponse:
		return formatErrorFields("ErrorResponse", m)
	case *pgproto3.NoticeResponse:
		e := pgproto3.ErrorResponse(*m)
		return formatErrorFields("NoticeResponse", &e)
	case *pgproto3.DataRow:
		// Values print as text when they are printable UTF-8, else as
		// hex (pgproto3's own JSON shows binary integers as garbage).
		vals := make([]string, len(m.Values))
		for i, v := range m.Values {
			switch {
			case v == nil:
				vals[i] = "null"
			case printable(v):
				b, _ := json.Marshal(string(v))
				vals[i] = fmt.Sprintf(`{"text":%s}`, b)
			default:
				vals[i] = fmt.Sprintf(`{"binary":"%x"}`, v)
			}
		}
		return `{"Type":"DataRow","Values":[` + strings.Join(vals, ",") + "]}"
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Sprintf("%T: %v", msg, err)
	}
	return string(b)
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 32 {
			return false
		}
	}
	return true
}

func formatErrorFields(typ string, e *pgproto3.ErrorResponse) string {
	type field struct{ k, v string }
	detail := e.Detail
	if strings.HasPrefix(detail, "stack trace:") {
		// Internal errors carry the stack, whose line numbers change.
		detail = "stack trace: ..."
	}
	fields := []field{{"Type", typ}, {"Severity", e.Severity}, {"Code", e.Code}, {"Message", e.Message},
		{"Detail", detail}, {"Hint", e.Hint}, {"ConstraintName", e.ConstraintName}}
	var parts []string
	for _, f := range fields {
		if f.v != "" {
			v, _ := json.Marshal(f.v)
			parts = append(parts, fmt.Sprintf("%q:%s", f.k, v))
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// parseFrontendJSON decodes one frontend message written as JSON with a
// "Type" field naming the pgproto3 message.
func parseFrontendJSON(line string) (pgproto3.FrontendMessage, error) {
	var head struct{ Type string }
	if err := json.Unmarshal([]byte(line), &head); err != nil {
		return nil, err
	}
	var msg pgproto3.FrontendMessage
	switch head.Type {
	case "Query":
		msg = &pgproto3.Query{}
	case "Parse":
		msg = &pgproto3.Parse{}
	case "Bind":
		msg = &pgproto3.Bind{}
	case "Describe":
		msg = &pgproto3.Describe{}
	case "Execute":
		msg = &pgproto3.Execute{}
	case "Sync":
		msg = &pgproto3.Sync{}
	case "Flush":
		msg = &pgproto3.Flush{}
	case "Close":
		msg = &pgproto3.Close{}
	case "Terminate":
		msg = &pgproto3.Terminate{}
	case "FunctionCall":
		msg = &pgproto3.FunctionCall{}
	case "CopyData":
		msg = &pgproto3.CopyData{}
	case "CopyDone":
		msg = &pgproto3.CopyDone{}
	default:
		return nil, fmt.Errorf("unknown message type %q", head.Type)
	}
	if err := json.Unmarshal([]byte(line), msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// isRunning reports whether the connection with the given process id is
// executing a statement (its cancel function is registered).
func (s *Server) isRunning(pid uint32) bool {
	return s.statementState(pid) != "idle"
}

// statementState is "idle", "running" or "cancelled" for the connection
// with the given process id.
func (s *Server) statementState(pid uint32) string {
	s.mu.Lock()
	c := s.mu.conns[pid]
	s.mu.Unlock()
	if c == nil {
		return "idle"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.mu.stmtCtx == nil:
		return "idle"
	case c.mu.stmtCtx.Err() != nil:
		return "cancelled"
	}
	return "running"
}

// scramShape prints a SCRAM server message with its random values replaced
// by their length: r=(nonce of 48 chars),s=(salt of 24 chars),i=10610.
func scramShape(msg string) string {
	parts := strings.Split(msg, ",")
	for i, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "r":
			parts[i] = fmt.Sprintf("r=(nonce of %d chars)", len(v))
		case "s":
			parts[i] = fmt.Sprintf("s=(salt of %d chars)", len(v))
		case "v":
			parts[i] = fmt.Sprintf("v=(signature of %d chars)", len(v))
		}
	}
	return strings.Join(parts, ",")
}
