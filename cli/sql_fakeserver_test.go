package cli

import (
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/vcdb/vcdb/certs"
)

// fakeServer is a minimal Postgres-wire server for the shell's tests: it
// answers a fixed set of statements with canned results, so that output
// formatting, error printing, transaction prompts and exit codes are tested
// byte for byte without a real database. (The real server is exercised by
// the end-to-end test.) It records every query and startup message, and
// with a TLS configuration it speaks TLS after SSLRequest and records the
// user of a verified client certificate as "client-cert-user".
type fakeServer struct {
	ln  net.Listener
	tls *tls.Config // nil: answer SSLRequest with 'N'
	wg  sync.WaitGroup
	mu  struct {
		sync.Mutex
		queries []string
		startup []map[string]string
	}
}

func newFakeServer(t *testing.T, tlsConfig *tls.Config) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{ln: ln, tls: tlsConfig}
	fs.wg.Add(1)
	go func() {
		defer fs.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			fs.wg.Add(1)
			go func() {
				defer fs.wg.Done()
				defer func() { _ = conn.Close() }()
				fs.serve(conn)
			}()
		}
	}()
	t.Cleanup(fs.close)
	return fs
}

// close stops the server and waits for its goroutines; it may be called
// more than once.
func (fs *fakeServer) close() {
	_ = fs.ln.Close()
	fs.wg.Wait()
}

func (fs *fakeServer) addr() string { return fs.ln.Addr().String() }

func (fs *fakeServer) port() string {
	_, p, _ := net.SplitHostPort(fs.addr())
	return p
}

// takeQueries returns and forgets the queries received so far.
func (fs *fakeServer) takeQueries() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	q := fs.mu.queries
	fs.mu.queries = nil
	return q
}

func (fs *fakeServer) lastStartup() map[string]string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.mu.startup) == 0 {
		return nil
	}
	return fs.mu.startup[len(fs.mu.startup)-1]
}

func (fs *fakeServer) serve(conn net.Conn) {
	be := pgproto3.NewBackend(conn, conn)
	certUser := ""
	msg, err := be.ReceiveStartupMessage()
	if err != nil {
		return
	}
	if _, ok := msg.(*pgproto3.SSLRequest); ok {
		if fs.tls == nil {
			if _, err := conn.Write([]byte("N")); err != nil {
				return
			}
		} else {
			if _, err := conn.Write([]byte("S")); err != nil {
				return
			}
			tc := tls.Server(conn, fs.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			certUser, _ = certs.ClientCertUser(tc.ConnectionState())
			conn = tc
			be = pgproto3.NewBackend(conn, conn)
		}
		if msg, err = be.ReceiveStartupMessage(); err != nil {
			return
		}
	}
	sm, ok := msg.(*pgproto3.StartupMessage)
	if !ok {
		return
	}
	params := map[string]string{"client-cert-user": certUser}
	for k, v := range sm.Parameters {
		params[k] = v
	}
	fs.mu.Lock()
	fs.mu.startup = append(fs.mu.startup, params)
	fs.mu.Unlock()
	db := sm.Parameters["database"]
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "13.0.0"})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 2}})
	txn := byte('I')
	be.Send(&pgproto3.ReadyForQuery{TxStatus: txn})
	if be.Flush() != nil {
		return
	}
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.Terminate:
			return
		case *pgproto3.Query:
			fs.mu.Lock()
			fs.mu.queries = append(fs.mu.queries, m.String)
			fs.mu.Unlock()
			txn, db = fakeAnswer(be, strings.Join(strings.Fields(m.String), " "), txn, db)
			be.Send(&pgproto3.ReadyForQuery{TxStatus: txn})
			if be.Flush() != nil {
				return
			}
		default:
			be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "0A000", Message: "fake server: simple protocol only"})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: txn})
			if be.Flush() != nil {
				return
			}
		}
	}
}

func str(s string) *string { return &s }

type fakeCol struct {
	name string
	oid  uint32
}

// fakeAnswer sends the canned response to one statement (white space
// collapsed) and returns the new transaction status and database.
func fakeAnswer(be *pgproto3.Backend, q string, txn byte, db string) (byte, string) {
	rows := func(cols []fakeCol, tag string, data ...[]*string) {
		rd := &pgproto3.RowDescription{}
		for _, c := range cols {
			rd.Fields = append(rd.Fields, pgproto3.FieldDescription{Name: []byte(c.name), DataTypeOID: c.oid, DataTypeSize: -1, TypeModifier: -1})
		}
		be.Send(rd)
		for _, r := range data {
			dr := &pgproto3.DataRow{}
			for _, v := range r {
				if v == nil {
					dr.Values = append(dr.Values, nil)
				} else {
					dr.Values = append(dr.Values, []byte(*v))
				}
			}
			be.Send(dr)
		}
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	}
	fail := func(e *pgproto3.ErrorResponse) byte {
		e.Severity = "ERROR"
		be.Send(e)
		if txn != 'I' {
			return 'E'
		}
		return 'I'
	}
	if txn == 'E' && q != "ROLLBACK" && q != "COMMIT" {
		return fail(&pgproto3.ErrorResponse{Code: "25P02",
			Message: "current transaction is aborted, commands ignored until end of transaction block"}), db
	}
	switch {
	case q == "SELECT 1":
		rows([]fakeCol{{"?column?", pgtype.Int8OID}}, "SELECT 1", []*string{str("1")})
	case q == "SELECT * FROM accounts":
		rows([]fakeCol{{"id", pgtype.Int8OID}, {"name", pgtype.TextOID}, {"balance", pgtype.NumericOID}, {"ok", pgtype.BoolOID}},
			"SELECT 4",
			[]*string{str("1"), str("alice"), str("100.50"), str("t")},
			[]*string{str("22"), str("Bob, Jr."), str("-3"), str("f")},
			[]*string{str("333"), nil, str("0"), nil},
			[]*string{str("4"), str("two\nlines"), str("1e+10"), str("t")},
		)
	case q == "SELECT * FROM empty":
		rows([]fakeCol{{"a", pgtype.TextOID}, {"b", pgtype.Int4OID}}, "SELECT 0")
	case q == "SELECT 'tab\there', 'quote\"d', 'café'":
		rows([]fakeCol{{"t", pgtype.TextOID}, {"q", pgtype.TextOID}, {"u", pgtype.TextOID}}, "SELECT 1",
			[]*string{str("tab\there"), str(`quote"d`), str("café")})
	case q == "CREATE TABLE t (x INT)":
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("CREATE TABLE")})
	case q == "INSERT INTO t VALUES (1), (2)":
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("INSERT 0 2")})
	case strings.HasPrefix(q, "SET "):
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SET")})
	case strings.HasPrefix(q, "USE "):
		db = strings.TrimSpace(strings.TrimPrefix(q, "USE "))
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SET")})
	case q == "SHOW database":
		rows([]fakeCol{{"database", pgtype.TextOID}}, "SHOW 1", []*string{str(db)})
	case q == "SHOW TABLES":
		rows([]fakeCol{{"table_name", pgtype.TextOID}}, "SHOW 1", []*string{str("accounts")})
	case q == "BEGIN":
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("BEGIN")})
		return 'T', db
	case q == "COMMIT":
		if txn == 'E' {
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("ROLLBACK")})
		} else {
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("COMMIT")})
		}
		return 'I', db
	case q == "ROLLBACK":
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("ROLLBACK")})
		return 'I', db
	case q == "SELECT * FROM missing":
		return fail(&pgproto3.ErrorResponse{Code: "42P01", Message: `relation "missing" does not exist`}), db
	case q == "DELETE FROM accounts":
		return fail(&pgproto3.ErrorResponse{Code: "01000",
			Message: "rejected (sql_safe_updates = true): DELETE without WHERE or LIMIT clause",
			Detail:  "DELETE without WHERE or LIMIT deletes every row",
			Hint:    "add a WHERE clause or SET sql_safe_updates = false"}), db
	case q == "SELECT notice()":
		be.Send(&pgproto3.NoticeResponse{Severity: "NOTICE", Message: "this is a notice"})
		rows([]fakeCol{{"notice", pgtype.TextOID}}, "SELECT 1", []*string{str("done")})
	case q == "":
		be.Send(&pgproto3.EmptyQueryResponse{})
	default:
		return fail(&pgproto3.ErrorResponse{Code: "42601", Message: "fake server: unknown statement " + q}), db
	}
	return txn, db
}
