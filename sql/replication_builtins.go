package sql

import (
	"context"
	"strconv"
	"sync"
	"unsafe"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/sql/sem"
)

// The stream protocol's builtins (replication/doc.go "Transport"), run by a
// standby's consumer on this cluster's system VC:
//
//	SELECT crdb_internal.start_replication_stream($1::STRING, $2::BYTES)
//	SELECT crdb_internal.stream_partition($1::INT8, $2::BYTES)
//	SELECT crdb_internal.replication_stream_heartbeat($1::INT8, $2::STRING)
//	SELECT crdb_internal.complete_replication_stream($1::INT8, $2::BOOL)
//	SELECT crdb_internal.replication_prior_details($1::STRING)
//
// Each passes its arguments to the Producer method of the same name and
// returns its result unchanged. They are recognised by shape (a SELECT of
// exactly one such call, without FROM) when a statement is prepared, rather
// than being functions of the expression evaluator: they have side effects
// on replication jobs, stream_partition returns rows as they are produced
// for as long as the stream lives, and none of them may run in a
// transaction whose effects could be rolled back. Only the system VC has
// them, and only for users holding REPLICATIONSOURCE or the legacy
// REPLICATION system privilege (or admin), CRDB-PCR-FACTS §1.7.
//
// stream_partition's Result (partitionResult) asks the wire server to
// flush after every row (RowFlusher): replication lag depends on each
// frame leaving as soon as the producer emits it.

// replBuiltin describes one builtin.
type replBuiltin struct {
	name   string
	params []*types.T
	result resultColumn
}

var replBuiltins = map[string]*replBuiltin{
	"start_replication_stream":     {params: []*types.T{types.String, types.Bytes}, result: resultColumn{typ: types.Bytes}},
	"stream_partition":             {params: []*types.T{types.Int, types.Bytes}, result: resultColumn{typ: types.Bytes}},
	"replication_stream_heartbeat": {params: []*types.T{types.Int, types.String}, result: resultColumn{typ: types.Bytes}},
	"complete_replication_stream":  {params: []*types.T{types.Int, types.Bool}, result: resultColumn{typ: types.Int}},
	"replication_prior_details":    {params: []*types.T{types.String}, result: resultColumn{typ: types.Bytes}},
}

func init() {
	for name, b := range replBuiltins {
		b.name = name
		b.result.name = name
	}
}

// replBuiltinCall is a recognised call: the builtin and its argument
// expressions.
type replBuiltinCall struct {
	fn   *replBuiltin
	args tree.Exprs
}

// replicationBuiltinCall recognises SELECT crdb_internal.<builtin>(...).
func replicationBuiltinCall(stmt tree.Statement) *replBuiltinCall {
	sel, ok := stmt.(*tree.Select)
	if !ok || sel.With != nil || sel.OrderBy != nil || sel.Limit != nil {
		return nil
	}
	sc, ok := sel.Select.(*tree.SelectClause)
	if !ok || len(sc.From.Tables) != 0 || sc.Where != nil || len(sc.Exprs) != 1 || sc.From.AsOf.Expr != nil {
		return nil
	}
	fe, ok := sc.Exprs[0].Expr.(*tree.FuncExpr)
	if !ok {
		return nil
	}
	un, ok := fe.Func.FunctionReference.(*tree.UnresolvedName)
	if !ok || un.NumParts != 2 || un.Parts[1] != "crdb_internal" {
		return nil
	}
	fn := replBuiltins[un.Parts[0]]
	if fn == nil {
		return nil
	}
	return &replBuiltinCall{fn: fn, args: fe.Exprs}
}

// placeholderOf returns the placeholder an argument is (possibly under a
// cast).
func placeholderOf(e tree.Expr) (*tree.Placeholder, bool) {
	for {
		switch t := e.(type) {
		case *tree.Placeholder:
			return t, true
		case *tree.CastExpr:
			e = t.Expr
		case *tree.ParenExpr:
			e = t.Expr
		default:
			return nil, false
		}
	}
}

// prepareReplicationBuiltin fills prep for a builtin call: its placeholders
// take the builtin's parameter types unless the client gave them.
func prepareReplicationBuiltin(prep *Prepared, call *replBuiltinCall, paramTypes []*types.T) error {
	if len(call.args) != len(call.fn.params) {
		return pgerror.Newf(pgcode.UndefinedFunction,
			"unknown signature: crdb_internal.%s() with %d arguments (want %d)", call.fn.name, len(call.args), len(call.fn.params))
	}
	prep.ParamTypes = make([]*types.T, prep.NumPlaceholders)
	for i, a := range call.args {
		if ph, ok := placeholderOf(a); ok && int(ph.Idx) < len(prep.ParamTypes) {
			prep.ParamTypes[ph.Idx] = call.fn.params[i]
		}
	}
	for i := range prep.ParamTypes {
		if i < len(paramTypes) && paramTypes[i] != nil {
			prep.ParamTypes[i] = paramTypes[i]
		} else if prep.ParamTypes[i] == nil {
			prep.ParamTypes[i] = types.String
		}
	}
	prep.Columns = columnsOf([]resultColumn{call.fn.result})
	prep.replCall = call
	return nil
}

// evalBuiltinArgs evaluates a call's arguments to the builtin's parameter
// types.
func (s *Session) evalBuiltinArgs(ctx context.Context, call *replBuiltinCall, args tree.Datums) (tree.Datums, error) {
	out := make(tree.Datums, len(call.args))
	for i, e := range call.args {
		want := call.fn.params[i]
		var d tree.Datum
		if ph, ok := placeholderOf(e); ok && int(ph.Idx) < len(args) {
			d = args[ph.Idx]
		} else {
			var err error
			if d, err = s.evalTyped(ctx, e, want, args); err != nil {
				return nil, err
			}
		}
		if d == tree.DNull {
			return nil, pgerror.Newf(pgcode.NullValueNotAllowed,
				"crdb_internal.%s: argument %d must not be NULL", call.fn.name, i+1)
		}
		cd, err := coerceBuiltinArg(d, want)
		if err != nil {
			return nil, errors.Wrapf(err, "crdb_internal.%s: argument %d", call.fn.name, i+1)
		}
		out[i] = cd
	}
	return out, nil
}

// coerceBuiltinArg converts a bound argument (which a client may have sent
// with another type, for example text) to the parameter's type.
func coerceBuiltinArg(d tree.Datum, want *types.T) (tree.Datum, error) {
	if d.ResolvedType().Family() == want.Family() {
		return d, nil
	}
	str, isStr := tree.AsDString(d)
	switch want.Family() {
	case types.BytesFamily:
		if isStr {
			return tree.NewDBytes(tree.DBytes(str)), nil
		}
	case types.StringFamily:
		if b, ok := d.(*tree.DBytes); ok {
			return tree.NewDString(string(*b)), nil
		}
		return tree.NewDString(tree.AsStringWithFlags(d, tree.FmtBareStrings)), nil
	case types.IntFamily:
		if isStr {
			v, err := strconv.ParseInt(string(str), 10, 64)
			if err != nil {
				return nil, pgerror.Newf(pgcode.InvalidTextRepresentation, "could not parse %q as type int", string(str))
			}
			return tree.NewDInt(tree.DInt(v)), nil
		}
	case types.BoolFamily:
		if isStr {
			v, err := strconv.ParseBool(string(str))
			if err != nil {
				return nil, pgerror.Newf(pgcode.InvalidTextRepresentation, "could not parse %q as type bool", string(str))
			}
			return tree.MakeDBool(tree.DBool(v)), nil
		}
	}
	return nil, pgerror.Newf(pgcode.DatatypeMismatch, "expected %s, got %s", want, d.ResolvedType())
}

// evalTyped type-checks e against desired and evaluates it with args.
func (s *Session) evalTyped(ctx context.Context, e tree.Expr, desired *types.T, args tree.Datums) (tree.Datum, error) {
	var out tree.Datum
	hints := make([]*types.T, len(args))
	for i, a := range args {
		hints[i] = a.ResolvedType()
	}
	err := s.withCatalog(ctx, func(snap *catalog.Snapshot) error {
		p, err := newPlanner(s, snap, len(args), hints)
		if err != nil {
			return err
		}
		typed, err := p.typeCheck(ctx, e, nil, "argument", desired)
		if err != nil {
			return err
		}
		txn := s.beginKV(true, kv.Timestamp{})
		defer txn.Rollback()
		out, err = sem.Eval(ctx, s.prepareEvalContext(txn, args), typed, nil)
		return err
	})
	return out, err
}

// execReplicationBuiltin runs a recognised builtin call.
func (s *Session) execReplicationBuiltin(ctx context.Context, prep *Prepared, args tree.Datums) (Result, error) {
	call := prep.replCall
	if !s.srv.isSystem() || s.srv.host == nil {
		return nil, pgerror.Newf(pgcode.InsufficientPrivilege,
			"crdb_internal.%s is only available in the system virtual cluster", call.fn.name)
	}
	h := s.srv.host
	if err := s.withCatalog(ctx, func(snap *catalog.Snapshot) error {
		return requireAnySystemPrivilege(s.principal(snap), privilege.REPLICATIONSOURCE, privilege.REPLICATION)
	}); err != nil {
		return nil, err
	}
	if s.txn.mode != txnIdle {
		return nil, pgerror.Newf(pgcode.ActiveSQLTransaction,
			"crdb_internal.%s cannot be used inside a multi-statement transaction", call.fn.name)
	}
	vals, err := s.evalBuiltinArgs(ctx, call, args)
	if err != nil {
		return nil, err
	}
	p := h.producer
	if call.fn.name == "stream_partition" {
		return s.startPartitionStream(ctx, prep, p.StreamPartition, int64(tree.MustBeDInt(vals[0])), []byte(tree.MustBeDBytes(vals[1])))
	}
	stmtCtx, cancel := s.stmtContext(ctx)
	defer cancel()
	var out tree.Datum
	switch call.fn.name {
	case "start_replication_stream":
		var b []byte
		b, err = p.StartReplicationStreamAs(stmtCtx, s.data.user, string(tree.MustBeDString(vals[0])), []byte(tree.MustBeDBytes(vals[1])))
		out = tree.NewDBytes(tree.DBytes(b))
	case "replication_stream_heartbeat":
		var b []byte
		b, err = p.HeartbeatReplicationStream(stmtCtx, int64(tree.MustBeDInt(vals[0])), string(tree.MustBeDString(vals[1])))
		out = tree.NewDBytes(tree.DBytes(b))
	case "complete_replication_stream":
		id := int64(tree.MustBeDInt(vals[0]))
		err = p.CompleteReplicationStream(stmtCtx, id, bool(tree.MustBeDBool(vals[1])))
		out = tree.NewDInt(tree.DInt(id))
	case "replication_prior_details":
		var b []byte
		b, err = p.ReplicationPriorDetails(stmtCtx, string(tree.MustBeDString(vals[0])))
		out = tree.NewDBytes(tree.DBytes(b))
	default:
		return nil, errors.AssertionFailedf("unhandled builtin %s", call.fn.name)
	}
	if err != nil {
		return nil, err
	}
	return &bufferedResult{cols: prep.Columns, rows: []tree.Datums{{out}}, tag: "SELECT 1"}, nil
}

// RowFlusher is implemented by Results whose rows must reach the client
// as soon as each is produced (see api.go).
var _ RowFlusher = (*partitionResult)(nil)

// streamFunc is Producer.StreamPartition's shape.
type streamFunc func(ctx context.Context, streamID int64, spec []byte, emit func(frame []byte) error) error

// partitionFramesInFlight bounds the frames copied out of the producer and
// not yet sent: enough to encode the next frame while the wire server
// writes the previous one, small enough that a slow consumer pushes back
// on the producer at once (its kv subscription then buffers, as designed).
const partitionFramesInFlight = 2

// partitionResult is crdb_internal.stream_partition's Result. The
// producer runs in a goroutine the result owns (StreamPartition is
// push-based, a Result pull-based); frames cross over a channel in
// buffers recycled through free, so a stream allocates nothing per frame
// once warm. Next returns a frame as a DBytes that aliases its buffer;
// the buffer goes back to the free list at the next call of Next, which
// is when the Result contract ends the row's validity (the wire server
// has encoded it by then).
type partitionResult struct {
	s      *Session
	cols   []Column
	ctx    context.Context
	cancel context.CancelFunc

	frames chan []byte
	free   chan []byte
	done   chan struct{} // closed when the producer goroutine returned
	err    error         // the producer's error, set before done closes
	wg     sync.WaitGroup

	out    []byte // the buffer of the row returned last
	count  int
	closed bool
	rerr   error
}

// startPartitionStream starts stream_partition's producer goroutine.
func (s *Session) startPartitionStream(ctx context.Context, prep *Prepared, stream streamFunc, streamID int64, spec []byte) (Result, error) {
	stmtCtx, cancel := s.stmtContext(ctx)
	r := &partitionResult{
		s: s, cols: prep.Columns, ctx: stmtCtx, cancel: cancel,
		frames: make(chan []byte, partitionFramesInFlight),
		free:   make(chan []byte, partitionFramesInFlight+1),
		done:   make(chan struct{}),
	}
	for i := 0; i < partitionFramesInFlight+1; i++ {
		r.free <- nil
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(r.done)
		r.err = stream(stmtCtx, streamID, spec, r.emit)
	}()
	return r, nil
}

// emit copies a frame into a free buffer and queues it; it blocks while
// partitionFramesInFlight frames wait (flow control).
func (r *partitionResult) emit(frame []byte) error {
	var buf []byte
	select {
	case buf = <-r.free:
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	buf = append(buf[:0], frame...)
	select {
	case r.frames <- buf:
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

func (r *partitionResult) Columns() []Column { return r.cols }

// FlushEachRow implements RowFlusher.
func (r *partitionResult) FlushEachRow() bool { return true }

// EndAtDrain tells the wire server (its optional drainEnder interface)
// that this result never ends by itself, so a draining node must end the
// stream at once instead of waiting its whole drain timeout for it. That
// loses nothing: the standby's consumer treats the end as a stream error,
// reconnects (to this node once it is back) and resumes strictly above
// its durable replicated time.
func (r *partitionResult) EndAtDrain() bool { return true }

func (r *partitionResult) Next(ctx context.Context) (tree.Datums, error) {
	if r.rerr != nil {
		return nil, r.rerr
	}
	if r.out != nil {
		r.free <- r.out
		r.out = nil
	}
	var buf []byte
	select {
	case buf = <-r.frames:
	case <-r.done:
		// Frames queued before the producer returned go out first.
		select {
		case buf = <-r.frames:
		default:
			r.rerr = r.err
			if r.rerr == nil {
				r.rerr = errors.New("replication stream ended")
			}
			r.rerr = toSQLError(r.rerr)
			return nil, r.rerr
		}
	case <-r.ctx.Done():
		r.rerr = toSQLError(r.ctx.Err())
		return nil, r.rerr
	}
	r.out = buf
	r.count++
	// The row aliases buf until the next call (see the type's comment).
	return tree.Datums{tree.NewDBytes(tree.DBytes(unsafe.String(unsafe.SliceData(buf), len(buf))))}, nil
}

func (r *partitionResult) Close(context.Context) (string, error) {
	tag := "SELECT " + strconv.Itoa(r.count)
	if r.closed {
		return tag, r.rerr
	}
	r.closed = true
	r.cancel()
	r.wg.Wait()
	r.s.exit()
	r.s.setActiveQuery("")
	return tag, r.rerr
}

// releasesSession implements sessionHolder.
func (r *partitionResult) releasesSession() {}
