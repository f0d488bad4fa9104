package replication

import (
	"context"
	"io"
	"strconv"
	"sync"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgconn"
)

// The stream protocol's statements, run on the primary's system VC. The SQL
// layer routes them to the Producer methods of the same names; the user
// needs REPLICATIONSOURCE (or REPLICATION), checked there.
const (
	StmtStartReplicationStream = `SELECT crdb_internal.start_replication_stream($1::STRING, $2::BYTES)`
	StmtStreamPartition        = `SELECT crdb_internal.stream_partition($1::INT8, $2::BYTES)`
	StmtHeartbeat              = `SELECT crdb_internal.replication_stream_heartbeat($1::INT8, $2::STRING)`
	StmtCompleteStream         = `SELECT crdb_internal.complete_replication_stream($1::INT8, $2::BOOL)`
	StmtPriorDetails           = `SELECT crdb_internal.replication_prior_details($1::STRING)`
)

// PostgreSQL type OIDs and formats of the statements' parameters.
const (
	oidInt8   = 20
	oidText   = 25
	oidBytea  = 17
	oidBool   = 16
	fmtText   = 0
	fmtBinary = 1
)

// PGSource is the Source over pgwire. It keeps one control connection for
// the short statements (serialized by a mutex, re-dialled after an error)
// and opens a connection of its own for each partition stream, whose rows
// arrive as they are produced.
type PGSource struct {
	cfg *pgconn.Config

	mu   sync.Mutex
	conn *pgconn.PgConn
}

// NewPGSource returns a Source that connects with cfg (the caller built it
// from the user's URI, TLS and password included). It connects lazily.
func NewPGSource(cfg *pgconn.Config) *PGSource {
	cfg = cfg.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "vcdb replication"
	return &PGSource{cfg: cfg}
}

// pgError keeps the SQLSTATE, hint and constraint name of an error the
// source sent. A 55000 naming VersionConstraintName is the source's
// version refusal (CheckVersions): it gets its errVersionMismatch mark
// back, which the wire lost, so that the job pauses at once.
func pgError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		code := pgcode.MakeCode(pe.Code)
		e := pgerror.New(code, pe.Message)
		if pe.Hint != "" {
			e = errors.WithHint(e, pe.Hint)
		}
		if pe.ConstraintName != "" {
			e = pgerror.WithConstraintName(e, pe.ConstraintName)
		}
		if code == pgcode.ObjectNotInPrerequisiteState && pe.ConstraintName == VersionConstraintName {
			e = errors.Mark(e, errVersionMismatch)
		}
		return e
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		// The source could not be reached (or the TLS handshake failed):
		// PostgreSQL's class 08 code for a client that cannot connect.
		// pgconn's message names the host and user, never the password.
		return pgerror.WithCandidateCode(errors.Wrap(err, "connecting to the replication source"),
			pgcode.SQLclientUnableToEstablishSQLconnection)
	}
	return err
}

// query runs a one-row, one-BYTES-column statement on the control
// connection.
func (s *PGSource) query(ctx context.Context, sql string, params [][]byte, oids []uint32, formats []int16) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		c, err := pgconn.ConnectConfig(ctx, s.cfg)
		if err != nil {
			return nil, pgError(err)
		}
		s.conn = c
	}
	rr := s.conn.ExecParams(ctx, sql, params, oids, formats, []int16{fmtBinary})
	var out []byte
	for rr.NextRow() {
		if v := rr.Values(); len(v) > 0 && out == nil {
			out = append([]byte{}, v[0]...)
		}
	}
	if _, err := rr.Close(); err != nil {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			// A transport error: start afresh next time.
			_ = s.conn.Close(context.Background())
			s.conn = nil
		}
		return nil, pgError(err)
	}
	return out, nil
}

func int8Param(v int64) []byte { return []byte(strconv.FormatInt(v, 10)) }

// StartStream implements Source.
func (s *PGSource) StartStream(ctx context.Context, tenantName string, req StartRequest) (StreamSpec, error) {
	raw, err := s.query(ctx, StmtStartReplicationStream,
		[][]byte{[]byte(tenantName), req.Encode()}, []uint32{oidText, oidBytea}, []int16{fmtText, fmtBinary})
	if err != nil {
		return StreamSpec{}, err
	}
	return DecodeStreamSpec(raw)
}

// Heartbeat implements Source.
func (s *PGSource) Heartbeat(ctx context.Context, streamID int64, req HeartbeatRequest) (StreamStatus, error) {
	raw, err := s.query(ctx, StmtHeartbeat,
		[][]byte{int8Param(streamID), []byte(req.Encode())}, []uint32{oidInt8, oidText}, []int16{fmtText, fmtText})
	if err != nil {
		return StreamStatus{}, err
	}
	return DecodeStreamStatus(raw)
}

// Complete implements Source.
func (s *PGSource) Complete(ctx context.Context, streamID int64, successful bool) error {
	_, err := s.query(ctx, StmtCompleteStream,
		[][]byte{int8Param(streamID), []byte(strconv.FormatBool(successful))}, []uint32{oidInt8, oidBool}, []int16{fmtText, fmtText})
	return err
}

// PriorDetails implements Source.
func (s *PGSource) PriorDetails(ctx context.Context, tenantName string) (PriorDetails, error) {
	raw, err := s.query(ctx, StmtPriorDetails, [][]byte{[]byte(tenantName)}, []uint32{oidText}, []int16{fmtText})
	if err != nil {
		return PriorDetails{}, err
	}
	return DecodePriorDetails(raw)
}

// Close implements Source.
func (s *PGSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close(context.Background())
	s.conn = nil
	return err
}

// StreamPartition implements Source: a connection of its own runs the
// long statement; each row is one frame.
func (s *PGSource) StreamPartition(ctx context.Context, streamID int64, spec PartitionSpec) (FrameStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	conn, err := pgconn.ConnectConfig(ctx, s.cfg)
	if err != nil {
		cancel()
		return nil, pgError(err)
	}
	rr := conn.ExecParams(ctx, StmtStreamPartition,
		[][]byte{int8Param(streamID), spec.Encode()}, []uint32{oidInt8, oidBytea}, []int16{fmtText, fmtBinary},
		[]int16{fmtBinary})
	return &pgFrameStream{conn: conn, rr: rr, cancel: cancel}, nil
}

// pgFrameStream reads frames from a running stream_partition statement.
// Next runs in one goroutine at a time; Close may run concurrently with a
// blocked Next: it cancels the statement's context (pgconn then interrupts
// the read), waits for Next to let go, and closes the connection.
type pgFrameStream struct {
	mu     sync.Mutex // held by Next while it reads
	conn   *pgconn.PgConn
	rr     *pgconn.ResultReader
	cancel context.CancelFunc
	err    error
	once   sync.Once
}

func (p *pgFrameStream) Next() ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return nil, p.err
	}
	if p.rr.NextRow() {
		v := p.rr.Values()
		if len(v) != 1 {
			p.err = errors.Newf("replication: stream row has %d columns", len(v))
			return nil, p.err
		}
		return append([]byte(nil), v[0]...), nil
	}
	_, err := p.rr.Close()
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	p.err = pgError(err)
	return nil, p.err
}

func (p *pgFrameStream) Close() error {
	p.once.Do(func() {
		p.cancel()
		p.mu.Lock()
		defer p.mu.Unlock()
		_ = p.conn.Close(context.Background())
		if p.err == nil {
			p.err = errors.New("replication: stream closed")
		}
	})
	return nil
}
