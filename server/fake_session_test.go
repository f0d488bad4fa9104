package server

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/lex"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/duration"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/json"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/timeutil/pgdate"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/uuid"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/sql"
)

// fakeSession is a scripted Session for protocol tests. Its "SQL" is one
// command per statement (statements are separated by ';'):
//
//	rows N             N rows of (n INT8, s TEXT)
//	types              one row with a value of every supported type
//	nulls              one row of NULLs of every supported type
//	echo $1 [$2 ...]   one row with the arguments (types: the client's,
//	                   else TEXT); echo-int infers INT8 instead
//	error CODE MSG     fails with SQLSTATE CODE
//	rowerror N         N rows of `rows`, then error 22012
//	notice MSG         raises a NOTICE
//	set NAME VALUE     changes a reported setting (ParameterStatus)
//	efd N              sets extra_float_digits
//	float              one row (f4 FLOAT4, f8 FLOAT8) = (1.1, 0.1+0.2)
//	sleep              blocks until its context is cancelled
//	sleepms N          one row after N milliseconds (or the cancellation)
//	begin | commit | rollback  transaction status
//	insert             INSERT 0 1, no rows
//	syntax             Parse fails with 42601
//	panic              Execute panics
type fakeSession struct {
	args    sql.SessionArgs
	status  []sql.StatusParam
	changes []sql.StatusParam
	notices []error
	txn     byte
	efd     int32
	syncs   *int
	closed  bool
	// done is closed by fakeEngine.stop (a stopped virtual cluster).
	done chan struct{}
}

var _ Session = (*fakeSession)(nil)

// fakeEngine opens fake sessions and records them, for tests that look
// at what the server passed on.
type fakeEngine struct {
	mu       sync.Mutex
	sessions []*fakeSession
	syncs    int
	// users are the users of each fake cluster (by cluster name) besides
	// root, an admin without password present everywhere; clusters lists
	// the cluster names served besides "system".
	users    map[string]map[string]UserAuth
	clusters []string
}

// fakeCluster is one virtual cluster of a fakeEngine.
type fakeCluster struct {
	e    *fakeEngine
	name string
}

func (c fakeCluster) Name() string { return c.name }

func (c fakeCluster) LookupUser(_ context.Context, user string) (UserAuth, bool, error) {
	if user == "root" {
		return UserAuth{CanLogin: true, MayConnect: true, IsAdmin: true}, true, nil
	}
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	if user == "lookup-error" {
		return UserAuth{}, false, pgerror.Newf(pgcode.Internal, "lookup failed")
	}
	u, ok := c.e.users[c.name][user]
	return u, ok, nil
}

func (c fakeCluster) NewSession(ctx context.Context, args sql.SessionArgs) (Session, error) {
	return c.e.open(ctx, args)
}

func (e *fakeEngine) open(_ context.Context, args sql.SessionArgs) (Session, error) {
	if args.Database == "nodb" {
		return nil, pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", args.Database)
	}
	for name := range args.SessionDefaults {
		if name == "bogus" {
			return nil, pgerror.Newf(pgcode.UndefinedObject, "unrecognized configuration parameter %q", name)
		}
	}
	s := &fakeSession{args: args, txn: 'I', efd: 1, syncs: &e.syncs, done: make(chan struct{})}
	tz := "UTC"
	if v, ok := args.SessionDefaults["TimeZone"]; ok {
		tz = v
	}
	s.status = []sql.StatusParam{
		{Name: "DateStyle", Value: "ISO, MDY"},
		{Name: "IntervalStyle", Value: "postgres"},
		{Name: "TimeZone", Value: tz},
		{Name: "application_name", Value: args.ApplicationName},
		{Name: "client_encoding", Value: "UTF8"},
		{Name: "server_version", Value: "13.0.0"},
	}
	e.mu.Lock()
	e.sessions = append(e.sessions, s)
	e.mu.Unlock()
	return s, nil
}

func (e *fakeEngine) route(cluster string) (Cluster, error) {
	if cluster == "" || cluster == "system" {
		return fakeCluster{e, "system"}, nil
	}
	for _, name := range e.clusters {
		if name == cluster {
			return fakeCluster{e, name}, nil
		}
	}
	return nil, RoutingError(cluster)
}

func (s *fakeSession) StatusParams() []sql.StatusParam { return s.status }
func (s *fakeSession) TakeStatusChanges() []sql.StatusParam {
	c := s.changes
	s.changes = nil
	return c
}
func (s *fakeSession) TxnStatus() byte { return s.txn }
func (s *fakeSession) TakeNotices() []error {
	n := s.notices
	s.notices = nil
	return n
}
func (s *fakeSession) ExtraFloatDigits() int32 { return s.efd }

func (s *fakeSession) BytesEncodeFormat() lex.BytesEncodeFormat { return lex.BytesEncodeHex }
func (s *fakeSession) Sync(context.Context) error {
	*s.syncs++
	return nil
}
func (s *fakeSession) Close()                { s.closed = true }
func (s *fakeSession) Done() <-chan struct{} { return s.done }

// stopSessions closes Done of every session opened so far (as STOP
// SERVICE does to a virtual cluster's sessions).
func (e *fakeEngine) stopSessions() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.sessions {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
}

var placeholderRE = regexp.MustCompile(`\$([0-9]+)`)

func (s *fakeSession) Parse(query string) ([]sql.Statement, error) {
	var out []sql.Statement
	for _, part := range strings.Split(query, ";") {
		part = strings.TrimSpace(part)
		if part == "" || strings.HasPrefix(part, "--") {
			continue
		}
		if part == "syntax" {
			return nil, pgerror.WithCandidateCode(errors.New(`at or near "syntax": syntax error`), pgcode.Syntax)
		}
		n := 0
		for _, m := range placeholderRE.FindAllStringSubmatch(part, -1) {
			if i, _ := strconv.Atoi(m[1]); i > n {
				n = i
			}
		}
		out = append(out, sql.Statement{SQL: part, NumPlaceholders: n})
	}
	return out, nil
}

func (s *fakeSession) Prepare(_ context.Context, st sql.Statement, hints []*types.T) (*sql.Prepared, error) {
	p := &sql.Prepared{Statement: st, ParamTypes: make([]*types.T, st.NumPlaceholders)}
	infer := types.String
	if strings.HasPrefix(st.SQL, "echo-int") {
		infer = types.Int
	}
	for i := range p.ParamTypes {
		p.ParamTypes[i] = infer
		if i < len(hints) && hints[i] != nil {
			p.ParamTypes[i] = hints[i]
		}
	}
	word := (append(strings.Fields(st.SQL), ""))[0]
	switch word {
	case "rows", "rowerror", "sleep", "sleepms":
		p.Columns = []sql.Column{{Name: "n", Type: types.Int, TableID: 100, ColumnID: 1}, {Name: "s", Type: types.String, TableID: 100, ColumnID: 2}}
	case "types", "nulls":
		for _, tv := range allTypes() {
			p.Columns = append(p.Columns, sql.Column{Name: tv.name, Type: tv.typ})
		}
	case "echo", "echo-int":
		for i, t := range p.ParamTypes {
			p.Columns = append(p.Columns, sql.Column{Name: fmt.Sprintf("p%d", i+1), Type: t})
		}
	case "float":
		p.Columns = []sql.Column{{Name: "f4", Type: types.Float4}, {Name: "f8", Type: types.Float}}
	}
	return p, nil
}

type typedValue struct {
	name string
	typ  *types.T
	val  tree.Datum
}

// allTypes is one value of every type the wire encodes, chosen to
// exercise signs, fractions, time zones and escaping.
func allTypes() []typedValue {
	dec, _, _ := apd.NewFromString("-12345.678900")
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	tsv, _ := tree.MakeDTimestamp(ts, time.Microsecond)
	tstz, _ := tree.MakeDTimestampTZ(ts, time.Microsecond)
	date, _ := pgdate.MakeDateFromTime(ts)
	j, _ := json.ParseJSON(`{"a": [1, "x", null], "b": {"c": true}}`)
	u := uuid.Must(uuid.FromString("6ba7b810-9dad-11d1-80b4-00c04fd430c8"))
	return []typedValue{
		{"bool", types.Bool, tree.MakeDBool(true)},
		{"int2", types.Int2, tree.NewDInt(-32768)},
		{"int4", types.Int4, tree.NewDInt(2147483647)},
		{"int8", types.Int, tree.NewDInt(-9223372036854775808)},
		{"float4", types.Float4, tree.NewDFloat(1.5)},
		{"float8", types.Float, tree.NewDFloat(-0.000123456789)},
		{"numeric", types.Decimal, &tree.DDecimal{Decimal: *dec}},
		{"text", types.String, tree.NewDString("it's \"q\" \\ é")},
		{"varchar", types.VarChar, tree.NewDString("v")},
		{"bytea", types.Bytes, tree.NewDBytes("\x00\x01\xfeA")},
		{"date", types.Date, tree.NewDDate(date)},
		{"timestamp", types.Timestamp, tsv},
		{"timestamptz", types.TimestampTZ, tstz},
		{"interval", types.Interval, &tree.DInterval{Duration: duration.MakeDuration(int64(90*time.Minute+1500*time.Microsecond), 3, 14)}},
		{"uuid", types.Uuid, tree.NewDUuid(tree.DUuid{UUID: u})},
		{"jsonb", types.Jsonb, tree.NewDJSON(j)},
	}
}

func (s *fakeSession) Execute(ctx context.Context, p *sql.Prepared, args tree.Datums) (sql.Result, error) {
	// Pad the words so that scripts with missing arguments (the fuzz
	// test writes any) read them as empty.
	f := append(strings.Fields(p.SQL), "", "", "")
	word := f[0]
	if s.txn == 'E' && word != "rollback" && word != "commit" {
		return nil, pgerror.Newf(pgcode.InFailedSQLTransaction,
			"current transaction is aborted, commands ignored until end of transaction block")
	}
	res := &fakeResult{cols: p.Columns, ctx: ctx}
	fail := func(err error) (sql.Result, error) {
		if s.txn == 'T' {
			s.txn = 'E'
		}
		return nil, err
	}
	switch word {
	case "rows", "rowerror":
		n, _ := strconv.Atoi(f[1])
		n = min(n, 1000)
		for i := 1; i <= n; i++ {
			res.rows = append(res.rows, tree.Datums{tree.NewDInt(tree.DInt(i)), tree.NewDString(fmt.Sprintf("row %d", i))})
		}
		res.tag = fmt.Sprintf("SELECT %d", n)
		if word == "rowerror" {
			res.err = pgerror.Newf(pgcode.DivisionByZero, "failed after %d rows", n)
			res.onErr = func() {
				if s.txn == 'T' {
					s.txn = 'E'
				}
			}
		}
	case "types":
		row := tree.Datums{}
		for _, tv := range allTypes() {
			row = append(row, tv.val)
		}
		res.rows, res.tag = []tree.Datums{row}, "SELECT 1"
	case "nulls":
		row := tree.Datums{}
		for range allTypes() {
			row = append(row, tree.DNull)
		}
		res.rows, res.tag = []tree.Datums{row}, "SELECT 1"
	case "echo", "echo-int":
		res.rows, res.tag = []tree.Datums{args}, "SELECT 1"
	case "float":
		// Computed at run time: Go folds constant expressions exactly.
		one, three := 1.0, 3.0
		res.rows, res.tag = []tree.Datums{{tree.NewDFloat(tree.DFloat(float32(one) / float32(three))), tree.NewDFloat(tree.DFloat(one / three))}}, "SELECT 1"
	case "error":
		err := pgerror.Newf(pgcode.MakeCode(f[1]), "%s", strings.TrimSpace(strings.Join(f[2:], " ")))
		err = errors.WithDetail(err, "some detail")
		err = errors.WithHint(err, "some hint")
		return fail(err)
	case "notice":
		s.notices = append(s.notices, pgerror.WithSeverity(
			pgerror.Newf(pgcode.SuccessfulCompletion, "%s", strings.TrimSpace(strings.Join(f[1:], " "))), "NOTICE"))
		res.tag = "NOTICE"
	case "set":
		s.changes = append(s.changes, sql.StatusParam{Name: f[1], Value: strings.TrimSpace(strings.Join(f[2:], " "))})
		res.tag = "SET"
	case "efd":
		n, _ := strconv.Atoi(f[1])
		s.efd = int32(n)
		res.tag = "SET"
	case "sleep":
		res.sleep = true
	case "sleepms":
		ms, _ := strconv.Atoi(f[1])
		ms = min(max(ms, 0), 10000)
		res.delay = time.Duration(ms) * time.Millisecond
		res.rows = []tree.Datums{{tree.NewDInt(tree.DInt(ms)), tree.NewDString("slept")}}
		res.tag = "SELECT 1"
	case "begin":
		s.txn, res.tag = 'T', "BEGIN"
	case "commit":
		if s.txn == 'E' {
			s.txn, res.tag = 'I', "ROLLBACK"
		} else {
			s.txn, res.tag = 'I', "COMMIT"
		}
	case "rollback":
		s.txn, res.tag = 'I', "ROLLBACK"
	case "insert":
		res.tag = "INSERT 0 1"
	case "panic":
		panic("scripted panic")
	default:
		return fail(pgerror.Newf(pgcode.Syntax, "unknown fake statement %q", p.SQL))
	}
	return res, nil
}

type fakeResult struct {
	cols  []sql.Column
	rows  []tree.Datums
	tag   string
	err   error
	onErr func()
	sleep bool
	delay time.Duration
	ctx   context.Context
	next  int
}

func (r *fakeResult) Columns() []sql.Column { return r.cols }

func (r *fakeResult) Next(ctx context.Context) (tree.Datums, error) {
	if r.sleep {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if r.delay > 0 {
		t := time.NewTimer(r.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		r.delay = 0
	}
	if r.next < len(r.rows) {
		r.next++
		return r.rows[r.next-1], nil
	}
	if r.err != nil {
		if r.onErr != nil {
			r.onErr()
		}
		return nil, r.err
	}
	return nil, nil
}

func (r *fakeResult) Close(context.Context) (string, error) { return r.tag, nil }
