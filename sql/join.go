package sql

import (
	"context"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
)

func (n *joinNode) explain(e *explainer) {
	line := n.kind.String() + " join"
	if len(n.leftEq) > 0 {
		var parts []string
		for i := range n.leftEq {
			parts = append(parts, n.cols[n.leftEq[i]].name+" = "+n.cols[n.numLeft+n.rightEq[i]].name)
		}
		line = "hash " + line + " on " + strings.Join(parts, " AND ")
	} else if n.on == nil && n.kind == joinInner {
		line = "cross join"
	} else {
		line = "nested loop " + line
	}
	if n.on != nil {
		line += " filter: " + formatExpr(n.on, n.cols)
	}
	e.line(line)
	e.child(func() {
		n.left.explain(e)
		n.right.explain(e)
	})
}

func (n *joinNode) start(ctx context.Context, r *runParams) (rowIter, error) {
	rightRows, err := drain(ctx, r, n.right)
	if err != nil {
		return nil, err
	}
	left, err := n.left.start(ctx, r)
	if err != nil {
		return nil, err
	}
	it := &joinIter{n: n, r: r, left: left, right: rightRows,
		row: make(tree.Datums, len(n.cols)), matched: make([]bool, len(rightRows))}
	if len(n.leftEq) > 0 {
		it.hash = map[string][]int{}
		var buf []byte
		for i, row := range rightRows {
			var ok bool
			if buf, ok, err = eqKey(buf[:0], row, n.rightEq); err != nil {
				return nil, err
			}
			if ok {
				it.hash[string(buf)] = append(it.hash[string(buf)], i)
			}
		}
	}
	return it, nil
}

// eqKey encodes the equality columns of row; ok is false when one is NULL
// (NULL never joins).
func eqKey(b []byte, row tree.Datums, cols []int) ([]byte, bool, error) {
	var err error
	for _, c := range cols {
		if row[c] == tree.DNull {
			return b, false, nil
		}
		if b, err = hashKey(b, row[c]); err != nil {
			return nil, false, err
		}
	}
	return b, true, nil
}

type joinIter struct {
	n       *joinNode
	r       *runParams
	left    rowIter
	right   []tree.Datums
	hash    map[string][]int
	matched []bool
	row     tree.Datums

	// Per left row state.
	cur        tree.Datums
	candidates []int
	pos        int
	curMatched bool
	leftDone   bool
	// unmatched right rows are emitted last (right and full joins).
	tailPos int
	buf     []byte
}

func (it *joinIter) next(ctx context.Context) (tree.Datums, error) {
	n := it.n
	for !it.leftDone {
		if it.cur == nil {
			row, err := it.left.next(ctx)
			if err != nil {
				return nil, err
			}
			if row == nil {
				it.leftDone = true
				break
			}
			it.cur = append(it.cur[:0], row...)
			if it.cur == nil {
				it.cur = tree.Datums{}
			}
			it.pos, it.curMatched = 0, false
			if it.hash != nil {
				var ok bool
				var err error
				if it.buf, ok, err = eqKey(it.buf[:0], it.cur, n.leftEq); err != nil {
					return nil, err
				}
				it.candidates = nil
				if ok {
					it.candidates = it.hash[string(it.buf)]
				}
			}
		}
		for {
			var ri int
			if it.hash != nil {
				if it.pos >= len(it.candidates) {
					break
				}
				ri = it.candidates[it.pos]
			} else {
				if it.pos >= len(it.right) {
					break
				}
				ri = it.pos
			}
			it.pos++
			copy(it.row, it.cur)
			copy(it.row[n.numLeft:], it.right[ri])
			ok, err := it.r.evalFilter(ctx, n.on, it.row)
			if err != nil {
				return nil, err
			}
			if ok {
				it.curMatched = true
				it.matched[ri] = true
				return it.row, nil
			}
		}
		cur := it.cur
		it.cur = nil
		if !it.curMatched && (n.kind == joinLeft || n.kind == joinFull) {
			copy(it.row, cur)
			for i := n.numLeft; i < len(it.row); i++ {
				it.row[i] = tree.DNull
			}
			return it.row, nil
		}
	}
	if n.kind == joinRight || n.kind == joinFull {
		for it.tailPos < len(it.right) {
			i := it.tailPos
			it.tailPos++
			if it.matched[i] {
				continue
			}
			for j := 0; j < n.numLeft; j++ {
				it.row[j] = tree.DNull
			}
			copy(it.row[n.numLeft:], it.right[i])
			return it.row, nil
		}
	}
	return nil, nil
}

func (it *joinIter) close() { it.left.close() }
