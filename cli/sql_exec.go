package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// sqlSession runs statements on one connection and prints their results. It
// is used by the batch runner and the interactive shell alike; only the
// shell turns on timing.
type sqlSession struct {
	conn   *pgconn.PgConn
	out    io.Writer // results
	errOut io.Writer // errors and notices (the shell's own errors too)
	format string
	// showTimes prints "Time: ..." after each successful statement
	// (interactive sessions in table format, as CockroachDB's shell).
	showTimes bool
	// now is the clock for timing; tests make it step by a fixed amount.
	now func() time.Time
}

// sqlError is a statement's failure as the shell prints it, without the
// leading "ERROR: " (Main, or the shell, adds that):
//
//	<message>
//	SQLSTATE: <code>
//	DETAIL: <detail>
//	HINT: <hint>
type sqlError struct {
	pg *pgconn.PgError
}

func (e *sqlError) Error() string {
	var b strings.Builder
	b.WriteString(e.pg.Message)
	if e.pg.Code != "" {
		b.WriteString("\nSQLSTATE: " + e.pg.Code)
	}
	if e.pg.Detail != "" {
		b.WriteString("\nDETAIL: " + e.pg.Detail)
	}
	if e.pg.Hint != "" {
		b.WriteString("\nHINT: " + e.pg.Hint)
	}
	return b.String()
}

// asSQLError returns err in the shell's format when a server error is in its
// chain, else err itself.
func asSQLError(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return &sqlError{pg: pg}
	}
	return err
}

// rightAlignedOIDs are the numeric types, aligned right in tables.
var rightAlignedOIDs = map[uint32]bool{
	pgtype.Int2OID: true, pgtype.Int4OID: true, pgtype.Int8OID: true, pgtype.OIDOID: true,
	pgtype.Float4OID: true, pgtype.Float8OID: true, pgtype.NumericOID: true,
}

// exec runs one statement (simple protocol, text results) and prints each of
// its results: rows in the session's format, or the command tag for a
// statement without rows. A server error is returned as *sqlError after any
// results that preceded it were printed.
func (s *sqlSession) exec(ctx context.Context, stmt string) error {
	start := s.now()
	mrr := s.conn.Exec(ctx, stmt)
	var firstErr error
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		fds := rr.FieldDescriptions()
		var rs *resultSet
		if len(fds) > 0 {
			rs = &resultSet{columns: make([]string, len(fds)), rightAlign: make([]bool, len(fds))}
			for i, fd := range fds {
				rs.columns[i] = fd.Name
				rs.rightAlign[i] = rightAlignedOIDs[fd.DataTypeOID]
			}
		}
		for rr.NextRow() {
			if rs == nil {
				continue
			}
			vals := rr.Values()
			row := make([]*string, len(vals))
			for i, v := range vals {
				if v != nil {
					str := string(v)
					row[i] = &str
				}
			}
			rs.rows = append(rs.rows, row)
		}
		tag, err := rr.Close()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if rs != nil {
			if err := writeResult(s.out, s.format, rs); err != nil {
				return err
			}
		} else if t := tag.String(); t != "" {
			fmt.Fprintln(s.out, t)
		}
	}
	if err := mrr.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		if s.conn.IsClosed() {
			return errors.Wrap(asSQLError(firstErr), "connection lost")
		}
		return asSQLError(firstErr)
	}
	if s.showTimes {
		fmt.Fprintf(s.out, "\nTime: %s\n\n", formatDuration(s.now().Sub(start)))
	}
	return nil
}

// execQuiet runs a statement of the shell's own, printing nothing.
func (s *sqlSession) execQuiet(ctx context.Context, stmt string) error {
	_, err := s.conn.Exec(ctx, stmt).ReadAll()
	return asSQLError(err)
}

// formatDuration shows milliseconds with three decimals below a second (in
// ASCII: no "µs"), and rounded durations above.
func formatDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(time.Millisecond).String()
}

// printError prints err as the shell shows errors.
func printError(w io.Writer, err error) {
	fmt.Fprintf(w, "ERROR: %v\n", err)
}

// runBatch runs the statements of text one at a time, stopping at the first
// error. A final statement without ';' runs too (end of input ends it).
func (s *sqlSession) runBatch(ctx context.Context, text string) error {
	stmts, rest := splitStatements(text)
	if !isBlankSQL(rest) {
		stmts = append(stmts, strings.TrimSpace(rest))
	}
	for _, st := range stmts {
		if err := s.exec(ctx, st); err != nil {
			return err
		}
	}
	return nil
}
