package sql

import (
	"context"
	"fmt"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/sql/sem"
)

// planner builds the plan of one statement. It lives for the planning of
// that statement only.
type planner struct {
	s       *Session
	cat     *catalog.Snapshot
	semaCtx *tree.SemaContext
	// subqueries collects the statement's uncorrelated subqueries;
	// subquery s is subqueries[s.Idx-1]. The index, not the pointer,
	// identifies a subquery because type checking may copy the node.
	subqueries []*subqueryPlan
	// writes is set when the statement changes data.
	writes bool
	// outer is the chain of scopes enclosing the subquery being planned.
	outer []*scope
	// asOf is the statement's top-level AS OF SYSTEM TIME clause, which
	// the session has already applied to the transaction; any other is an
	// error.
	asOf *tree.AsOfClause
}

// stmtPlan is a planned statement, kept with its prepared statement.
type stmtPlan struct {
	root       planNode
	subqueries []*subqueryPlan
	cols       []resultColumn
	// version is the catalog version the plan was made against; the plan is
	// reused only while the transaction sees the same version.
	version string
	// tag is the command tag's verb ("SELECT", "INSERT", ...).
	tag string
	// writes is set for statements that change data.
	writes bool
	// returnsRows is false for mutations without RETURNING.
	returnsRows bool
	// placeholderTypes are the types of $1..$n.
	placeholderTypes []*types.T
}

func newPlanner(s *Session, cat *catalog.Snapshot, numPlaceholders int, hints []*types.T) (*planner, error) {
	p := &planner{
		s:       s,
		cat:     cat,
		semaCtx: sem.NewSemaContext(),
	}
	th := make([]*types.T, numPlaceholders)
	copy(th, hints)
	p.semaCtx.Placeholders.Init(numPlaceholders, th)
	p.semaCtx.DateStyle = s.data.dateStyle
	p.semaCtx.IntervalStyle = s.data.intervalStyle
	return p, nil
}

// planStatement plans a query or a mutation.
func (p *planner) planStatement(ctx context.Context, stmt tree.Statement) (*stmtPlan, error) {
	var root planNode
	var err error
	sp := &stmtPlan{returnsRows: true}
	switch t := stmt.(type) {
	case *tree.Select:
		sp.tag = "SELECT"
		root, err = p.planSelect(ctx, t, nil)
	case *tree.ParenSelect:
		sp.tag = "SELECT"
		root, err = p.planSelect(ctx, t.Select, nil)
	case *tree.Insert:
		sp.tag = "INSERT"
		root, err = p.planInsert(ctx, t)
		sp.returnsRows = returnsRows(t.Returning)
	case *tree.Update:
		sp.tag = "UPDATE"
		root, err = p.planUpdate(ctx, t)
		sp.returnsRows = returnsRows(t.Returning)
	case *tree.Delete:
		sp.tag = "DELETE"
		root, err = p.planDelete(ctx, t)
		sp.returnsRows = returnsRows(t.Returning)
	default:
		return nil, pgerror.Newf(pgcode.FeatureNotSupported, "unsupported statement: %s", stmt.StatementTag())
	}
	if err != nil {
		return nil, err
	}
	sp.root = root
	sp.subqueries = p.subqueries
	if sp.returnsRows {
		sp.cols = root.columns()
	}
	sp.version = p.cat.Version
	sp.writes = p.writes
	sp.placeholderTypes = make([]*types.T, len(p.semaCtx.Placeholders.Types))
	for i, t := range p.semaCtx.Placeholders.Types {
		if t == nil {
			return nil, pgerror.Newf(pgcode.IndeterminateDatatype,
				"could not determine data type of placeholder $%d", i+1)
		}
		sp.placeholderTypes[i] = t
	}
	return sp, nil
}

func returnsRows(r tree.ReturningClause) bool {
	_, ok := r.(*tree.ReturningExprs)
	return ok
}

// unimplemented returns the 0A000 error for a feature vcdb lacks.
func unimplemented(what string) error {
	return pgerror.Newf(pgcode.FeatureNotSupported, "%s not supported", what)
}

// subqueryMode says how a subquery's rows become a value.
type subqueryMode int

const (
	subqueryScalar subqueryMode = iota // one value, NULL when no row
	subqueryExists                     // a bool
	subqueryRows                       // a tuple of rows (IN, = ANY)
)

// subqueryPlan is an uncorrelated subquery, run at most once per execution.
type subqueryPlan struct {
	sub  *tree.Subquery
	plan planNode
	mode subqueryMode
}

// planSubquery plans s (once) and sets its type.
func (p *planner) planSubquery(ctx context.Context, s *tree.Subquery) error {
	return p.planSubqueryMode(ctx, s, subqueryScalar)
}

func (p *planner) planSubqueryMode(ctx context.Context, s *tree.Subquery, mode subqueryMode) error {
	if s.Idx > 0 && s.Idx <= len(p.subqueries) && p.subqueries[s.Idx-1].sub == s {
		return nil
	}
	sel, ok := s.Select.(*tree.ParenSelect)
	var stmt *tree.Select
	if ok {
		stmt = sel.Select
	} else {
		stmt = &tree.Select{Select: s.Select}
	}
	plan, err := p.planSelect(ctx, stmt, nil)
	if err != nil {
		return err
	}
	cols := plan.columns()
	if s.Exists {
		mode = subqueryExists
	}
	switch mode {
	case subqueryExists:
		s.SetType(types.Bool)
	case subqueryScalar:
		if len(cols) != 1 {
			return pgerror.Newf(pgcode.Syntax, "subquery must return only one column, found %d", len(cols))
		}
		s.SetType(cols[0].typ)
	case subqueryRows:
		if len(cols) == 1 {
			s.SetType(types.MakeTuple([]*types.T{cols[0].typ}))
		} else {
			s.SetType(types.MakeTuple([]*types.T{types.MakeTuple(columnTypes(cols))}))
		}
	}
	p.subqueries = append(p.subqueries, &subqueryPlan{sub: s, plan: plan, mode: mode})
	s.Idx = len(p.subqueries)
	return nil
}

// runSubquery is the sem.Context.Subquery hook of one execution.
func (r *runParams) runSubquery(ctx context.Context, s *tree.Subquery) (tree.Datum, error) {
	if s.Idx < 1 || s.Idx > len(r.plans) {
		return nil, pgerror.Newf(pgcode.FeatureNotSupported, "correlated subqueries are not supported")
	}
	if d := r.subqueries[s.Idx-1]; d != nil {
		return d, nil
	}
	sp := r.plans[s.Idx-1]
	var result tree.Datum
	switch sp.mode {
	case subqueryExists:
		it, err := sp.plan.start(ctx, r)
		if err != nil {
			return nil, err
		}
		row, err := it.next(ctx)
		it.close()
		if err != nil {
			return nil, err
		}
		result = tree.MakeDBool(tree.DBool(row != nil))
	case subqueryScalar:
		rows, err := drainLimit(ctx, r, sp.plan, 2)
		if err != nil {
			return nil, err
		}
		switch len(rows) {
		case 0:
			result = tree.DNull
		case 1:
			result = rows[0][0]
		default:
			return nil, pgerror.Newf(pgcode.CardinalityViolation,
				"more than one row returned by a subquery used as an expression")
		}
	case subqueryRows:
		rows, err := drain(ctx, r, sp.plan)
		if err != nil {
			return nil, err
		}
		cols := sp.plan.columns()
		tup := &tree.DTuple{D: make(tree.Datums, len(rows))}
		for i, row := range rows {
			if len(cols) == 1 {
				tup.D[i] = row[0]
			} else {
				tup.D[i] = tree.NewDTuple(types.MakeTuple(columnTypes(cols)), row...)
			}
		}
		result = tup
	default:
		return nil, fmt.Errorf("unknown subquery mode %d", sp.mode)
	}
	r.subqueries[s.Idx-1] = result
	return result, nil
}

// drainLimit returns at most n rows of a plan.
func drainLimit(ctx context.Context, r *runParams, n planNode, limit int) ([]tree.Datums, error) {
	it, err := n.start(ctx, r)
	if err != nil {
		return nil, err
	}
	defer it.close()
	var rows []tree.Datums
	for len(rows) < limit {
		row, err := it.next(ctx)
		if err != nil {
			return nil, err
		}
		if row == nil {
			break
		}
		rows = append(rows, append(tree.Datums(nil), row...))
	}
	return rows, nil
}
