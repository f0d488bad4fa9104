package sql

import (
	"context"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
)

// [SHOW ...] as a data source: SELECT ... FROM [SHOW VIRTUAL CLUSTER main
// WITH REPLICATION STATUS], SELECT fingerprint FROM [SHOW
// EXPERIMENTAL_FINGERPRINTS FROM VIRTUAL CLUSTER x] AS OF SYSTEM TIME t.
// The SHOW's columns are known when planning; its rows are computed when
// the plan runs, in the statement's transaction, so they are read at the
// statement's timestamp (its AS OF SYSTEM TIME included) and a cached plan
// shows fresh rows each time.

// showSourceNode runs a SHOW statement and returns its rows.
type showSourceNode struct {
	stmt tree.Statement
	cols []resultColumn
}

func (n *showSourceNode) columns() []resultColumn { return n.cols }

func (n *showSourceNode) explain(e *explainer) { e.line("show: " + n.stmt.StatementTag()) }

func (n *showSourceNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	if sv, ok := n.stmt.(*tree.ShowVar); ok {
		res, err := r.s.execShowVar(sv)
		if err != nil {
			return nil, err
		}
		return &sliceIter{rows: res.(*bufferedResult).rows}, nil
	}
	snap, err := r.descs.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	p, err := newPlanner(r.s, snap, len(r.ec.Placeholders), nil)
	if err != nil {
		return nil, err
	}
	d := &ddl{s: r.s, descs: r.descs, snap: snap, p: p, rp: r}
	rows, err := d.execShow(ctx, n.stmt)
	if err != nil {
		return nil, err
	}
	return &sliceIter{rows: rows}, nil
}

// planStatementSource plans [stmt].
func (p *planner) planStatementSource(src *tree.StatementSource) (planNode, *scope, error) {
	if sv, ok := src.Statement.(*tree.ShowVar); ok {
		cols := utilityColumns(sv)
		if strings.EqualFold(sv.Name, "all") {
			cols = []resultColumn{strCol("variable"), strCol("value")}
		}
		return &showSourceNode{stmt: sv, cols: cols}, scopeFromColumns(cols, ""), nil
	}
	if !isShow(src.Statement) {
		return nil, nil, pgerror.Newf(pgcode.FeatureNotSupported,
			"only SHOW statements can be used as data sources, not %s", src.Statement.StatementTag())
	}
	if err := p.typeShowPlaceholders(src.Statement); err != nil {
		return nil, nil, err
	}
	cols := utilityColumns(src.Statement)
	return &showSourceNode{stmt: src.Statement, cols: cols}, scopeFromColumns(cols, ""), nil
}

// typeShowPlaceholders gives the placeholders of a SHOW their types: names
// and times are strings, [id] specs integers.
func (p *planner) typeShowPlaceholders(stmt tree.Statement) error {
	set := func(e tree.Expr, typ *types.T) error {
		ph, ok := e.(*tree.Placeholder)
		if !ok {
			return nil
		}
		if t, known, _ := p.semaCtx.Placeholders.Type(ph.Idx); known && t != nil {
			return nil
		}
		return p.semaCtx.Placeholders.SetType(ph.Idx, typ)
	}
	spec := func(ts *tree.TenantSpec) error {
		if ts == nil || ts.All {
			return nil
		}
		if ts.IsName {
			return set(ts.Expr, types.String)
		}
		return set(ts.Expr, types.Int)
	}
	switch t := stmt.(type) {
	case *tree.ShowTenant:
		return spec(t.TenantSpec)
	case *tree.ShowTenantClusterSetting:
		return spec(t.TenantSpec)
	case *tree.ShowFingerprints:
		if err := spec(t.TenantSpec); err != nil {
			return err
		}
		return set(t.Options.StartTimestamp, types.String)
	case *tree.ShowExternalConnections:
		return set(t.ConnectionLabel, types.String)
	}
	return nil
}
