package server

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// FuzzReadMessage feeds arbitrary bytes to the startup packet reader and
// parser and then to the message reader and decoder: nothing may panic,
// and no allocation may exceed the limits checked before reading.
func FuzzReadMessage(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newMsgReader(bytes.NewReader(data), 1<<16)
		if code, body, err := r.readStartup(); err == nil && code>>16 == 3 {
			if params, err := parseStartupPairs(body[4:]); err == nil {
				_, _ = parseStartupParams(params)
			}
		}
		for i := 0; i < 10000; i++ {
			typ, body, err := r.readMessage()
			if err != nil {
				return
			}
			if len(body) > 1<<16 {
				t.Fatalf("body of %d bytes over the limit", len(body))
			}
			if _, err := decodeFrontend(typ, body); err != nil {
				return
			}
		}
	})
}

// FuzzServeConn runs a whole connection (handshake and processor, with
// the scripted session) on arbitrary client bytes: the server must not
// panic or hang, whatever the client sends.
func FuzzServeConn(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		eng := &fakeEngine{}
		srv := NewServer(Config{Route: eng.route, Insecure: true, MaxMessageSize: 1 << 16, Logf: func(string, ...interface{}) {}})
		defer srv.Close()
		nc := &bytesConn{r: bytes.NewReader(data)}
		srv.mu.Lock()
		c := newConn(srv, nc, 1, [4]byte{1, 2, 3, 4})
		srv.mu.conns[1] = c
		srv.mu.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			if c.handshake() {
				c.serve()
			}
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("connection did not end after the client's bytes ran out")
		}
	})
}

// bytesConn is a net.Conn whose client sends data and then hangs up;
// the server's output is discarded.
type bytesConn struct {
	r *bytes.Reader
}

func (c *bytesConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *bytesConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *bytesConn) Close() error                     { return nil }
func (c *bytesConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *bytesConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *bytesConn) SetDeadline(time.Time) error      { return nil }
func (c *bytesConn) SetReadDeadline(time.Time) error  { return nil }
func (c *bytesConn) SetWriteDeadline(time.Time) error { return nil }

var _ io.ReadWriteCloser = (*bytesConn)(nil)

// fuzzSeeds are well-formed conversations and near misses.
func fuzzSeeds() [][]byte {
	enc := func(msgs ...pgproto3.FrontendMessage) []byte {
		var b []byte
		for _, m := range msgs {
			var err error
			if b, err = m.Encode(b); err != nil {
				panic(err)
			}
		}
		return b
	}
	startup := &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "root", "database": "defaultdb", "options": "-c TimeZone=UTC -ccluster=system"}}
	ssl := []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}
	session := enc(startup,
		&pgproto3.Query{String: "rows 2; types; set TimeZone Asia/Tokyo; types"},
		&pgproto3.Parse{Name: "s", Query: "echo $1 $2", ParameterOIDs: []uint32{20, 0}},
		&pgproto3.Describe{ObjectType: 'S', Name: "s"},
		&pgproto3.Bind{PreparedStatement: "s", ParameterFormatCodes: []int16{1, 0},
			Parameters: [][]byte{{0, 0, 0, 0, 0, 0, 0, 7}, []byte("x")}, ResultFormatCodes: []int16{1}},
		&pgproto3.Describe{ObjectType: 'P'},
		&pgproto3.Execute{MaxRows: 1},
		&pgproto3.Execute{},
		&pgproto3.Close{ObjectType: 'S', Name: "s"},
		&pgproto3.Sync{},
		&pgproto3.Parse{Query: "types"},
		&pgproto3.Bind{ResultFormatCodes: []int16{1}},
		&pgproto3.Execute{},
		&pgproto3.Flush{},
		&pgproto3.Sync{},
		&pgproto3.Terminate{})
	return [][]byte{
		session,
		append(append([]byte{}, ssl...), session...),
		enc(&pgproto3.CancelRequest{ProcessID: 1, SecretKey: []byte{1, 2, 3, 4}}),
		enc(startup, &pgproto3.Query{String: "begin; error 22012 x; rows 1"}, &pgproto3.Query{String: "rollback"}),
		append(enc(startup), 'Q', 0x7f, 0xff, 0xff, 0xff),
		append(enc(startup), 'B', 0, 0, 0, 12, 0, 0, 0, 0, 0, 5, 0, 0),
		{0, 0, 0, 8, 0, 2, 0, 0},
	}
}

var writeFuzzSeeds = flag.Bool("write-fuzz-seeds", false, "write fuzzSeeds to testdata/fuzz (go test -run TestWriteFuzzSeeds -write-fuzz-seeds)")

// TestWriteFuzzSeeds writes the seeds as corpus files under
// testdata/fuzz, which `go test` runs as ordinary test cases.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeFuzzSeeds {
		return
	}
	for _, name := range []string{"FuzzReadMessage", "FuzzServeConn"} {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0755); err != nil {
			t.Fatal(err)
		}
		for i, seed := range fuzzSeeds() {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(content), 0644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
