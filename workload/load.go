package workload

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
)

// valuesList returns "($1, $2), ($3, $4), ..." for rows rows of cols
// columns: the VALUES list of a multi-row INSERT.
func valuesList(rows, cols int) string {
	var b strings.Builder
	n := 1
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c < cols; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// placeholders returns "$first, $first+1, ..., $first+n-1".
func placeholders(first, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(first + i))
	}
	return b.String()
}

// execDDL runs statements in order on conn with the simple protocol: DDL is
// run once, so there is nothing to prepare.
func execDDL(ctx context.Context, conn *pgx.Conn, stmts ...string) error {
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s, pgx.QueryExecModeSimpleProtocol); err != nil {
			return errors.Wrapf(err, "%s", s)
		}
	}
	return nil
}

// loadRows inserts rows [1, total] in chunks of batch rows, from up to
// concurrency connections in parallel. insert writes rows [lo, hi] with one
// statement on conn. Chunks are handed out from a shared counter, so a slow
// connection does not hold the others back.
func loadRows(
	ctx context.Context,
	c *Connector,
	concurrency int,
	total, batch int64,
	insert func(ctx context.Context, conn *pgx.Conn, lo, hi int64) error,
) error {
	if total <= 0 {
		return nil
	}
	chunks := (total + batch - 1) / batch
	concurrency = int(min(int64(max(concurrency, 1)), chunks))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, concurrency)
	for i := 0; i < concurrency; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			conn, err := c.Connect(ctx)
			if err != nil {
				errs[i] = err
				cancel()
				return
			}
			defer closeConn(conn)
			for {
				chunk := next.Add(1) - 1
				if chunk >= chunks || ctx.Err() != nil {
					return
				}
				lo := chunk*batch + 1
				hi := min(lo+batch-1, total)
				if err := insert(ctx, conn, lo, hi); err != nil {
					errs[i] = errors.Wrapf(err, "loading rows %d-%d", lo, hi)
					cancel()
					return
				}
			}
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// countRows returns the number of rows of table.
func countRows(ctx context.Context, conn *pgx.Conn, table string) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table, pgx.QueryExecModeSimpleProtocol).Scan(&n)
	return n, errors.Wrapf(err, "counting the rows of %s", table)
}
