package sql

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/sql/sem"
)

// Plans
//
// A statement is planned once into a tree of planNodes and the tree is kept
// with its prepared statement, so executing a prepared statement again skips
// parsing, name resolution, type checking and index selection. For that a
// plan holds no execution state: planNode.start builds a fresh rowIter
// (the operator's running state) for each execution, and everything that
// depends on the arguments ($n placeholders) — key spans, LIMIT counts,
// inserted values — is computed from typed expressions when the plan runs.
//
// Rows flow through rowIters one at a time (Volcano style). A row returned
// by next is valid until the following call: operators that keep rows
// (sort, hash join, aggregation, buffering results) copy the slice; datums
// themselves are immutable and shared.
//
// The planner is rule-based: name resolution and type checking, then index
// selection from the WHERE conjuncts (scan.go), hash joins on equality
// conditions, and a sort only when no index order provides it. The shape
// leaves room for correlated subqueries (a scope chain instead of one scope),
// CTEs (named plan nodes in the planner) and window functions (a window
// operator between grouping and projection).

// planNode is one operator of a plan.
type planNode interface {
	// columns describes the rows the operator produces.
	columns() []resultColumn
	// start begins one execution of the operator.
	start(ctx context.Context, r *runParams) (rowIter, error)
	// explain describes the operator and its inputs, one line each.
	explain(e *explainer)
}

// rowIter is one execution of a planNode.
type rowIter interface {
	// next returns the next row, or nil at the end.
	next(ctx context.Context) (tree.Datums, error)
	// close releases the iterator's resources; it is idempotent.
	close()
}

// resultColumn describes one column of an operator's rows.
type resultColumn struct {
	name string
	typ  *types.T
	// hidden columns are not expanded by * (the implicit rowid).
	hidden bool
	// tableID and colID identify a plain table column (RowDescription).
	tableID catalog.ID
	colID   catalog.ColumnID
}

// runParams is the context of one execution of a plan.
type runParams struct {
	s     *Session
	txn   *kv.Txn
	descs *catalog.Collection
	ec    *sem.Context
	// subqueries holds the results of uncorrelated subqueries, computed at
	// most once per execution.
	subqueries []tree.Datum
	plans      []*subqueryPlan
	// rowsAffected counts the rows a mutation changed (the command tag).
	rowsAffected int
}

// eval evaluates a typed expression against row.
func (r *runParams) eval(ctx context.Context, e tree.TypedExpr, row tree.Datums) (tree.Datum, error) {
	return sem.Eval(ctx, r.ec, e, row)
}

// evalFilter evaluates a boolean filter: only TRUE passes.
func (r *runParams) evalFilter(ctx context.Context, e tree.TypedExpr, row tree.Datums) (bool, error) {
	if e == nil {
		return true, nil
	}
	return sem.EvalFilter(ctx, r.ec, e, row)
}

// drain runs a plan to completion and returns its rows (copied).
func drain(ctx context.Context, r *runParams, n planNode) ([]tree.Datums, error) {
	it, err := n.start(ctx, r)
	if err != nil {
		return nil, err
	}
	defer it.close()
	var rows []tree.Datums
	for {
		if len(rows)%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		row, err := it.next(ctx)
		if err != nil {
			return nil, err
		}
		if row == nil {
			return rows, nil
		}
		rows = append(rows, append(tree.Datums(nil), row...))
	}
}

func columnTypes(cols []resultColumn) []*types.T {
	out := make([]*types.T, len(cols))
	for i := range cols {
		out[i] = cols[i].typ
	}
	return out
}
