package sql

import (
	"context"
	"strconv"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
)

// bufferedResult returns rows computed in advance.
type bufferedResult struct {
	cols []Column
	rows []tree.Datums
	pos  int
	tag  string
	// onClose runs once at Close (cleanup only; the statement is done).
	onClose func()
	closed  bool
}

var _ Result = (*bufferedResult)(nil)

func (r *bufferedResult) Columns() []Column { return r.cols }

func (r *bufferedResult) Next(context.Context) (tree.Datums, error) {
	if r.pos >= len(r.rows) {
		return nil, nil
	}
	r.pos++
	return r.rows[r.pos-1], nil
}

func (r *bufferedResult) Close(context.Context) (string, error) {
	if !r.closed && r.onClose != nil {
		r.closed = true
		r.onClose()
	}
	return r.tag, nil
}

// streamResult pulls rows from a running plan. finish ends the statement
// (committing an implicit transaction) when the result is closed.
type streamResult struct {
	s      *Session
	cols   []Column
	it     rowIter
	rp     *runParams
	ctx    context.Context
	cancel context.CancelFunc
	count  int
	err    error
	done   bool
	// finish is called once with the statement's outcome; it returns the
	// error to report (a commit can fail).
	finish func(ctx context.Context, err error) error
	closed bool
}

var _ Result = (*streamResult)(nil)

// sessionHolder is a Result that keeps its session busy (Session.enter)
// after Execute returns, until its Close: Execute then leaves the exit and
// the active query to it.
type sessionHolder interface {
	releasesSession()
}

func (r *streamResult) releasesSession() {}

func (r *streamResult) Columns() []Column { return r.cols }

func (r *streamResult) Next(ctx context.Context) (_ tree.Datums, err error) {
	defer func() {
		recoverInternal(&err)
		if err != nil {
			r.err = err
		}
	}()
	if r.err != nil || r.done {
		return nil, r.err
	}
	// Rows are read under the statement's context, derived from the one
	// Execute was given (which must stay valid until Close): it carries
	// statement_timeout and Session.Cancel.
	row, err := r.it.next(r.ctx)
	if err != nil {
		r.err = toSQLError(err)
		return nil, r.err
	}
	if row == nil {
		r.done = true
		return nil, nil
	}
	r.count++
	return row, nil
}

func (r *streamResult) Close(ctx context.Context) (string, error) {
	if r.closed {
		return "SELECT " + strconv.Itoa(r.count), r.err
	}
	r.closed = true
	r.it.close()
	err := r.finish(ctx, r.err)
	r.cancel()
	r.s.exit()
	if err != nil {
		return "", err
	}
	return "SELECT " + strconv.Itoa(r.count), nil
}

// columnsOf converts plan columns to the contract's Column.
func columnsOf(cols []resultColumn) []Column {
	if cols == nil {
		return nil
	}
	out := make([]Column, 0, len(cols))
	for _, c := range cols {
		out = append(out, Column{Name: c.name, Type: c.typ, TableID: uint32(c.tableID), ColumnID: uint16(c.colID)})
	}
	return out
}
