package server

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Message size limits. Every length a client sends is checked before any
// memory is allocated for the body, so a hostile length costs nothing.
const (
	// maxStartupPacketLen is PostgreSQL's MAX_STARTUP_PACKET_LENGTH: a
	// startup packet holds a handful of names and values.
	maxStartupPacketLen = 10000
	// minStartupPacketLen is the length word plus the 4-byte code.
	minStartupPacketLen = 8
	// smallMessageLimit is PostgreSQL's PQ_SMALL_MESSAGE_LIMIT: every
	// message except Query, Parse, Bind, FunctionCall, CopyData and the
	// password messages is a few names and numbers, so a larger one is
	// malformed and is refused without reading it.
	smallMessageLimit = 10000
	// DefaultMaxMessageSize bounds the other messages (a Query text, a
	// Bind's parameters). It is CockroachDB's default for
	// sql.conn.max_read_buffer_message_size (16 MiB): big enough for bulk
	// multi-row INSERTs and large bytea parameters, small enough that a
	// few hundred connections cannot exhaust memory with one message
	// each. PostgreSQL allows up to 1 GiB, which a Go process sharing a
	// small machine should not promise.
	DefaultMaxMessageSize = 16 << 20
	// readBufferSize is the connection's read buffer: large enough that a
	// pipelined batch of small messages (pgx's Bind/Describe/Execute/Sync)
	// arrives in one read system call.
	readBufferSize = 16 << 10
)

// Startup packet codes (the 4 bytes after the length), from PostgreSQL's
// pqcomm.h.
const (
	sslRequestCode    = 80877103
	gssEncRequestCode = 80877104
	cancelRequestCode = 80877102
)

// msgReader reads PostgreSQL frontend messages from a buffered connection.
// Each returned body is a fresh slice owned by the caller, because bodies
// are decoded in place and handed to another goroutine.
type msgReader struct {
	r       *bufio.Reader
	maxSize int
	hdr     [5]byte
}

func newMsgReader(r io.Reader, maxSize int) *msgReader {
	if maxSize <= 0 {
		maxSize = DefaultMaxMessageSize
	}
	return &msgReader{r: bufio.NewReaderSize(r, readBufferSize), maxSize: maxSize}
}

// protocolViolation returns a client-visible 08P01 error; the connection
// is closed after it is sent.
func protocolViolation(format string, args ...interface{}) error {
	return pgerror.Newf(pgcode.ProtocolViolation, format, args...)
}

// readStartup reads an untyped startup packet: a length word and a body
// whose first 4 bytes are the protocol version or a request code.
func (m *msgReader) readStartup() (code uint32, body []byte, err error) {
	if _, err := io.ReadFull(m.r, m.hdr[:4]); err != nil {
		return 0, nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(m.hdr[:4])))
	if n < minStartupPacketLen || n > maxStartupPacketLen {
		return 0, nil, protocolViolation("invalid length of startup packet: %d", n)
	}
	body = make([]byte, n-4)
	if _, err := io.ReadFull(m.r, body); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	return binary.BigEndian.Uint32(body), body, nil
}

// readMessage reads one typed message. A length outside the limits for
// its type is a protocol violation: the caller reports it and closes the
// connection, since the stream cannot be resynchronised.
func (m *msgReader) readMessage() (typ byte, body []byte, err error) {
	if _, err := io.ReadFull(m.r, m.hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, unexpectedEOF(err)
		}
		return 0, nil, err
	}
	typ = m.hdr[0]
	n := int(int32(binary.BigEndian.Uint32(m.hdr[1:])))
	if n < 4 {
		return typ, nil, protocolViolation("invalid message length %d for message type %q", n, typ)
	}
	limit := m.maxSize
	if !largeMessageType(typ) {
		limit = smallMessageLimit
	}
	if n-4 > limit {
		return typ, nil, pgerror.WithCandidateCode(
			errors.Newf("message of type %q is %d bytes long, larger than the limit of %d bytes", typ, n-4, limit),
			pgcode.ProtocolViolation)
	}
	body = make([]byte, n-4)
	if _, err := io.ReadFull(m.r, body); err != nil {
		return typ, nil, unexpectedEOF(err)
	}
	return typ, body, nil
}

// buffered reports how many bytes are already read from the network and
// not yet returned.
func (m *msgReader) buffered() int { return m.r.Buffered() }

func largeMessageType(typ byte) bool {
	switch typ {
	case 'Q', 'P', 'B', 'F', 'd', 'p':
		return true
	}
	return false
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decodeFrontend decodes a message body of the given type into a fresh
// message that may keep references into body. Messages that only appear
// during authentication ('p') are not accepted here.
func decodeFrontend(typ byte, body []byte) (pgproto3.FrontendMessage, error) {
	var msg pgproto3.FrontendMessage
	switch typ {
	case 'B':
		msg = &pgproto3.Bind{}
	case 'C':
		msg = &pgproto3.Close{}
	case 'D':
		msg = &pgproto3.Describe{}
	case 'E':
		msg = &pgproto3.Execute{}
	case 'F':
		msg = &pgproto3.FunctionCall{}
	case 'H':
		msg = &pgproto3.Flush{}
	case 'P':
		msg = &pgproto3.Parse{}
	case 'Q':
		msg = &pgproto3.Query{}
	case 'S':
		msg = &pgproto3.Sync{}
	case 'X':
		msg = &pgproto3.Terminate{}
	case 'c':
		msg = &pgproto3.CopyDone{}
	case 'd':
		msg = &pgproto3.CopyData{}
	case 'f':
		msg = &pgproto3.CopyFail{}
	default:
		return nil, protocolViolation("invalid frontend message type %d", typ)
	}
	if err := msg.Decode(body); err != nil {
		// pgproto3's decode errors describe the layout problem; keep
		// them as detail under a message of our own.
		return nil, errors.WithDetail(
			protocolViolation("malformed %s message (%d bytes)", messageName(msg), len(body)), err.Error())
	}
	return msg, nil
}

// messageName is the protocol name of a message ("Bind"), for errors and
// test output.
func messageName(msg interface{}) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", msg), "*pgproto3.")
}
