package sql

import (
	"context"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
)

// explainer collects EXPLAIN's lines: one per operator, children indented
// under their parent.
type explainer struct {
	depth int
	lines []string
}

func (e *explainer) line(s string) {
	e.lines = append(e.lines, strings.Repeat("  ", e.depth)+s)
}

func (e *explainer) child(fn func()) {
	e.depth++
	fn()
	e.depth--
}

// formatExpr prints a typed expression with its column references named
// after cols.
func formatExpr(expr tree.TypedExpr, cols []resultColumn) string {
	return tree.AsStringWithFlags(expr, tree.FmtSimple, tree.FmtIndexedVarFormat(func(ctx *tree.FmtCtx, idx int) {
		if idx < len(cols) {
			ctx.FormatNameP(&cols[idx].name)
			return
		}
		ctx.Printf("@%d", idx+1)
	}))
}

// explainPlan returns EXPLAIN's rows for a planned statement.
func explainPlan(sp *stmtPlan) []tree.Datums {
	e := &explainer{}
	sp.root.explain(e)
	for _, plan := range sp.subqueries {
		e.line("subquery")
		e.child(func() { plan.plan.explain(e) })
	}
	rows := make([]tree.Datums, len(e.lines))
	for i, l := range e.lines {
		rows[i] = tree.Datums{tree.NewDString(l)}
	}
	return rows
}

var explainColumns = []resultColumn{{name: "info", typ: types.String}}

// planExplain plans EXPLAIN <stmt>.
func (s *Session) planExplain(ctx context.Context, ex *tree.Explain, p *planner) (*stmtPlan, error) {
	if ex.Mode != tree.ExplainPlan && ex.Mode != 0 {
		return nil, pgerror.Newf(pgcode.FeatureNotSupported, "EXPLAIN %s is not supported", ex.Mode)
	}
	inner, err := p.planStatement(ctx, ex.Statement)
	if err != nil {
		return nil, err
	}
	return &stmtPlan{
		root:             &valuesNode{cols: explainColumns, rows: nil, fixed: explainPlan(inner)},
		cols:             explainColumns,
		version:          inner.version,
		tag:              "EXPLAIN",
		returnsRows:      true,
		placeholderTypes: inner.placeholderTypes,
	}, nil
}
