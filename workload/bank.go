package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
)

// Bank is the bank workload on bank.bank (id INT PRIMARY KEY, balance INT,
// payload STRING): every operation moves a random amount between two random
// accounts in one serializable transaction. It keeps two invariants that
// CheckBank verifies: the sum of balances never changes, and no balance
// goes below zero (a transfer reads the payer's balance and moves money
// only if it suffices, which is only safe if the transaction is truly
// serializable).
type Bank struct {
	// Rows is the number of accounts (at least 2).
	Rows int
	// PayloadBytes is the size of each row's payload, which transfers never
	// change: it makes rows the size of real ones.
	PayloadBytes int

	// Retries counts transaction attempts that failed with a retryable
	// error and were run again.
	Retries atomic.Int64
}

// DefaultBank returns the defaults of `vcdb workload run bank`, those of
// CockroachDB's bank workload.
func DefaultBank() *Bank { return &Bank{Rows: 1000, PayloadBytes: 100} }

const (
	// BankInitialBalance is every account's balance after init, so the
	// invariant total is Rows × BankInitialBalance.
	BankInitialBalance = 1000
	// bankMaxTransfer bounds one transfer's amount. A tenth of the initial
	// balance lets payers run dry now and then, which exercises the
	// "insufficient funds" path.
	bankMaxTransfer = 100
	// bankMaxAttempts bounds the retries of one transfer, so that a server
	// that fails every commit ends the run instead of hanging it. With the
	// backoff below, 1000 attempts take at most about 10 s.
	bankMaxAttempts = 1000
	// bankMaxBackoff caps the random pause before a retry. Pausing breaks
	// the livelock in which the same transactions abort each other again
	// and again (PostgreSQL's serializable snapshot isolation reports
	// read/write dependencies between any overlapping transfers).
	bankMaxBackoff = 10 * time.Millisecond
	bankLoadBatch  = 500
	bankTable      = "bank.bank"
)

// Name implements Generator.
func (b *Bank) Name() string { return "bank" }

// Validate checks the settings.
func (b *Bank) Validate() error {
	if b.Rows < 2 {
		return errors.Newf("--rows (%d) must be at least 2", b.Rows)
	}
	if b.PayloadBytes < 0 {
		return errors.Newf("--payload-bytes (%d) must not be negative", b.PayloadBytes)
	}
	return nil
}

func (b *Bank) createTable(d Dialect) string {
	if d == Postgres {
		return "CREATE TABLE IF NOT EXISTS bank.bank (id BIGINT PRIMARY KEY, balance BIGINT, payload TEXT)"
	}
	return "CREATE TABLE IF NOT EXISTS bank.bank (id INT PRIMARY KEY, balance INT, payload STRING)"
}

// Init implements Generator: it creates bank.bank with Rows accounts of
// BankInitialBalance each, unless the table already has rows.
func (b *Bank) Init(ctx context.Context, c *Connector, opts InitOptions) error {
	if err := b.Validate(); err != nil {
		return err
	}
	conn, err := c.Connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	d, err := Detect(ctx, conn)
	if err != nil {
		return err
	}
	stmts := []string{d.createContainer("bank")}
	if opts.Drop {
		stmts = append(stmts, "DROP TABLE IF EXISTS "+bankTable)
	}
	if err := execDDL(ctx, conn, append(stmts, b.createTable(d))...); err != nil {
		return err
	}
	if n, err := countRows(ctx, conn, bankTable); err != nil {
		return err
	} else if n > 0 {
		return errors.Newf("bank.bank already has %d rows: use --drop to load it afresh", n)
	}
	// Account ids are 0..Rows-1, as in CockroachDB's bank; loadRows counts
	// from 1.
	return loadRows(ctx, c, opts.Concurrency, int64(b.Rows), bankLoadBatch,
		func(ctx context.Context, conn *pgx.Conn, lo, hi int64) error {
			rng := rand.New(rand.NewPCG(opts.Seed, uint64(lo)))
			n := int(hi - lo + 1)
			args := make([]any, 0, 3*n)
			for id := lo - 1; id < hi; id++ {
				args = append(args, id, int64(BankInitialBalance), randomString(rng, b.PayloadBytes))
			}
			_, err := conn.Exec(ctx, "INSERT INTO bank.bank (id, balance, payload) VALUES "+valuesList(n, 3), args...)
			return err
		})
}

// randomString returns n random lower-case letters.
func randomString(rng *rand.Rand, n int) string {
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte('a' + rng.IntN(26))
	}
	return string(buf)
}

// NewWorker implements Generator.
func (b *Bank) NewWorker(ctx context.Context, conn *pgx.Conn, d Dialect, hists *Histograms, rng *rand.Rand) (Worker, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return &bankWorker{b: b, conn: conn, d: d, rng: rng, hist: hists.Get("transfer")}, nil
}

type bankWorker struct {
	b    *Bank
	conn *pgx.Conn
	d    Dialect
	rng  *rand.Rand
	hist *namedHistogram
}

// Op implements Worker: one transfer, retried on serialization failures; its
// latency includes the retries, as a client sees it.
func (w *bankWorker) Op(ctx context.Context) error {
	from := int64(w.rng.IntN(w.b.Rows))
	to := int64(w.rng.IntN(w.b.Rows - 1))
	if to >= from {
		to++
	}
	amount := int64(1 + w.rng.IntN(bankMaxTransfer))
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := w.transfer(ctx, from, to, amount)
		if err == nil {
			w.hist.Record(time.Since(start))
			return nil
		}
		if !isRetryable(err) || attempt >= bankMaxAttempts || ctx.Err() != nil {
			return errors.Wrapf(err, "transfer %d from %d to %d (attempt %d)", amount, from, to, attempt)
		}
		w.b.Retries.Add(1)
		if err := sleepCtx(ctx, retryBackoff(w.rng, attempt)); err != nil {
			return err
		}
	}
}

// retryBackoff returns the pause before retry number attempt: random (so
// that conflicting transactions do not retry in lockstep), growing from
// 50 µs exponentially up to bankMaxBackoff.
func retryBackoff(rng *rand.Rand, attempt int) time.Duration {
	limit := bankMaxBackoff
	if attempt < 8 {
		limit = min(limit, 50*time.Microsecond<<attempt)
	}
	return time.Duration(rng.Int64N(int64(limit)) + 1)
}

// transfer runs one attempt of a transfer as one transaction: read both
// balances, then, if the payer can pay, update both rows in ascending id
// order (a global order, so that PostgreSQL's row locks cannot deadlock),
// then commit. Any error rolls the transaction back.
func (w *bankWorker) transfer(ctx context.Context, from, to, amount int64) (err error) {
	if _, err := w.conn.Exec(ctx, w.d.beginSerializable()); err != nil {
		return err
	}
	defer func() {
		if err != nil && !w.conn.IsClosed() {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = w.conn.Exec(rctx, "ROLLBACK")
		}
	}()
	rows, err := w.conn.Query(ctx, "SELECT id, balance FROM bank.bank WHERE id IN ($1, $2)", from, to)
	if err != nil {
		return err
	}
	var fromBal int64
	found := 0
	for rows.Next() {
		var id, bal int64
		if err := rows.Scan(&id, &bal); err != nil {
			rows.Close()
			return err
		}
		found++
		if id == from {
			fromBal = bal
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if found != 2 {
		return errors.Newf("accounts %d and %d: found %d of them (is bank initialised with enough --rows?)", from, to, found)
	}
	if fromBal >= amount {
		first, second := from, to
		d1, d2 := -amount, amount
		if to < from {
			first, second, d1, d2 = to, from, amount, -amount
		}
		const update = "UPDATE bank.bank SET balance = balance + $1 WHERE id = $2"
		if _, err := w.conn.Exec(ctx, update, d1, first); err != nil {
			return err
		}
		if _, err := w.conn.Exec(ctx, update, d2, second); err != nil {
			return err
		}
	}
	_, err = w.conn.Exec(ctx, "COMMIT")
	return err
}

// BankCheck is what CheckBank found.
type BankCheck struct {
	Accounts int64
	Total    int64
	// Expected is Accounts × BankInitialBalance.
	Expected int64
	// Negative counts accounts with a balance below zero.
	Negative   int64
	MinBalance int64
}

// ErrBankInvariant marks the error CheckBank returns when the invariant is
// broken, as opposed to failing to read the table.
var ErrBankInvariant = errors.New("bank invariant violated")

func (c BankCheck) String() string {
	return fmt.Sprintf("%d accounts, total balance %d (expected %d), minimum balance %d, %d negative",
		c.Accounts, c.Total, c.Expected, c.MinBalance, c.Negative)
}

// CheckBank reads every balance of bank.bank in one statement (one
// consistent snapshot), at asOf when it is not empty (AS OF SYSTEM TIME,
// vcdb only), and verifies the invariants. The sum is computed here rather
// than by the server, so that the check trusts nothing but a plain scan.
func CheckBank(ctx context.Context, c *Connector, asOf string) (BankCheck, error) {
	conn, err := c.Connect(ctx)
	if err != nil {
		return BankCheck{}, err
	}
	defer closeConn(conn)
	d, err := Detect(ctx, conn)
	if err != nil {
		return BankCheck{}, err
	}
	aost, err := d.asOfSystemTime(asOf)
	if err != nil {
		return BankCheck{}, err
	}
	rows, err := conn.Query(ctx, "SELECT id, balance FROM bank.bank"+aost, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return BankCheck{}, errors.Wrap(err, "reading bank.bank")
	}
	var res BankCheck
	for rows.Next() {
		var id, bal int64
		if err := rows.Scan(&id, &bal); err != nil {
			rows.Close()
			return BankCheck{}, err
		}
		if res.Accounts == 0 || bal < res.MinBalance {
			res.MinBalance = bal
		}
		res.Accounts++
		res.Total += bal
		if bal < 0 {
			res.Negative++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return BankCheck{}, errors.Wrap(err, "reading bank.bank")
	}
	res.Expected = res.Accounts * BankInitialBalance
	if res.Accounts == 0 {
		return res, errors.Mark(errors.New("bank.bank has no accounts"), ErrBankInvariant)
	}
	if res.Total != res.Expected || res.Negative > 0 {
		return res, errors.Mark(errors.Newf("%s", res), ErrBankInvariant)
	}
	return res, nil
}
