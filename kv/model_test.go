package kv

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"testing"
	"time"
)

// The randomized model test: concurrent transactions of reads, scans,
// writes, deletes, range deletes and savepoint rollbacks run against the
// engine; afterwards every committed transaction is replayed, in commit
// timestamp order, against a naive reference model. Each replayed read must
// return exactly what the transaction observed (serializability: the history
// is equivalent to the serial order of commit timestamps), every read must
// also match the model's snapshot at the read timestamp, and reads of the
// engine at past timestamps must match the model's history.

type modelOpKind int

const (
	opGet modelOpKind = iota
	opScan
	opPut
	opDelete
	opDeleteRange
	opSavepoint
	opRollback
)

type modelOp struct {
	kind    modelOpKind
	key     string
	span    Span
	value   string
	opts    ScanOptions
	sp      int    // savepoint index
	result  string // observed result of a read
	resumed bool
}

type modelTxn struct {
	readTS, commitTS Timestamp
	readOnly         bool
	ops              []modelOp
}

type modelVersion struct {
	ts    Timestamp
	value string
	tomb  bool
}

// model is the reference: per key, versions in commit order.
type model map[string][]modelVersion

func (m model) at(key string, ts Timestamp) (string, bool) {
	vs := m[key]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].ts.LessEq(ts) {
			return vs[i].value, !vs[i].tomb
		}
	}
	return "", false
}

func (m model) keys() []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

type modelWrite struct {
	key, value string
	tomb       bool
}

// replayView is a transaction's view during replay: the model at ts plus
// its own buffered writes.
type replayView struct {
	m   model
	ts  Timestamp
	buf []modelWrite
}

func (v *replayView) get(key string) (string, bool) {
	for i := len(v.buf) - 1; i >= 0; i-- {
		if v.buf[i].key == key {
			return v.buf[i].value, !v.buf[i].tomb
		}
	}
	return v.m.at(key, v.ts)
}

func (v *replayView) scan(s Span, opts ScanOptions) (string, bool) {
	set := map[string]bool{}
	for k := range v.m {
		set[k] = true
	}
	for _, w := range v.buf {
		set[w.key] = true
	}
	var ks []string
	for k := range set {
		if s.ContainsKey([]byte(k)) {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	if opts.Reverse {
		for i, j := 0, len(ks)-1; i < j; i, j = i+1, j-1 {
			ks[i], ks[j] = ks[j], ks[i]
		}
	}
	var kvs []KeyValue
	resumed := false
	for _, k := range ks {
		val, ok := v.get(k)
		if !ok {
			continue
		}
		if opts.MaxRows > 0 && len(kvs) == opts.MaxRows {
			resumed = true
			break
		}
		kvs = append(kvs, KeyValue{Key: []byte(k), Value: []byte(val)})
	}
	return kvsString(kvs), resumed
}

func TestRandomizedModel(t *testing.T) {
	e := openTest(t, Options{})
	ctx := context.Background()
	seed := int64(rand.Uint32())
	t.Logf("seed %d", seed)
	const workers, txnsPerWorker, nKeys = 8, 60, 12
	keyName := func(rng *rand.Rand) string { return fmt.Sprintf("m%02d", rng.Intn(nKeys)) }
	randSpan := func(rng *rand.Rand) Span {
		a, b := rng.Intn(nKeys+1), rng.Intn(nKeys+1)
		if a > b {
			a, b = b, a
		}
		return sp(fmt.Sprintf("m%02d", a), fmt.Sprintf("m%02d\xff", b))
	}
	var mu sync.Mutex
	var committed []*modelTxn
	retries := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(w)))
			for i := 0; i < txnsPerWorker; i++ {
				mt := &modelTxn{readOnly: rng.Intn(5) == 0}
				opts := TxnOptions{ReadOnly: mt.readOnly}
				if mt.readOnly && rng.Intn(2) == 0 {
					// A read at a past timestamp.
					opts.ReadTimestamp = e.Now().Prev()
				}
				txn := e.Begin(opts)
				mt.readTS = txn.ReadTimestamp()
				var sps []Savepoint
				nOps := 1 + rng.Intn(6)
				if rng.Intn(10) == 0 {
					nOps = 25 // past smallBuffer: the indexed write buffer
				}
				failed := false
				for j := 0; j < nOps && !failed; j++ {
					if rng.Intn(3) == 0 {
						// Jitter widens the windows between reads and
						// commits, so transactions really overlap.
						time.Sleep(time.Duration(rng.Intn(300)) * time.Microsecond)
					}
					op := modelOp{}
					r := rng.Intn(100)
					if mt.readOnly {
						r = r % 40
					}
					switch {
					case r < 20:
						op.kind, op.key = opGet, keyName(rng)
						v, ok, err := txn.Get(ctx, []byte(op.key))
						if err != nil {
							t.Error(err)
							failed = true
						}
						op.result = fmt.Sprintf("%s/%v", v, ok)
					case r < 40:
						op.kind, op.span = opScan, randSpan(rng)
						op.opts = ScanOptions{Reverse: rng.Intn(2) == 0}
						if rng.Intn(2) == 0 {
							op.opts.MaxRows = 1 + rng.Intn(3)
						}
						res, err := txn.Scan(ctx, op.span, op.opts)
						if err != nil {
							t.Error(err)
							failed = true
						}
						op.result, op.resumed = kvsString(res.KVs), res.ResumeSpan != nil
					case r < 65:
						op.kind, op.key, op.value = opPut, keyName(rng), fmt.Sprintf("w%d.%d.%d", w, i, j)
						must(t, txn.Put([]byte(op.key), []byte(op.value)))
					case r < 78:
						op.kind, op.key = opDelete, keyName(rng)
						must(t, txn.Delete([]byte(op.key)))
					case r < 85:
						op.kind, op.span = opDeleteRange, randSpan(rng)
						must(t, txn.DeleteRange(op.span))
					case r < 93:
						op.kind, op.sp = opSavepoint, len(sps)
						sps = append(sps, txn.Savepoint())
					default:
						if len(sps) == 0 {
							continue
						}
						op.kind, op.sp = opRollback, rng.Intn(len(sps))
						must(t, txn.RollbackTo(sps[op.sp]))
						sps = sps[:op.sp+1]
					}
					mt.ops = append(mt.ops, op)
				}
				if failed {
					txn.Rollback()
					continue
				}
				ts, err := txn.Commit(ctx)
				if err != nil {
					if !IsRetryable(err) {
						t.Error(err)
					}
					mu.Lock()
					retries++
					mu.Unlock()
					continue
				}
				mt.commitTS = ts
				mu.Lock()
				committed = append(committed, mt)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Build the model from the writes of committed transactions, replaying
	// each in commit-timestamp order against the state just below it.
	sort.Slice(committed, func(i, j int) bool { return committed[i].commitTS.Less(committed[j].commitTS) })
	m := model{}
	writers := 0
	for i, mt := range committed {
		if i > 0 && mt.commitTS == committed[i-1].commitTS && mt.commitTS != mt.readTS {
			t.Fatalf("two transactions committed at %v", mt.commitTS)
		}
		buf, ok := replay(t, m, mt, mt.commitTS.Prev(), "serial order")
		if !ok {
			return
		}
		if mt.readOnly && len(buf) > 0 {
			t.Fatal("read-only txn wrote")
		}
		if len(buf) == 0 {
			continue
		}
		writers++
		final := map[string]modelWrite{}
		for _, w := range buf {
			final[w.key] = w
		}
		for k, w := range final {
			m[k] = append(m[k], modelVersion{ts: mt.commitTS, value: w.value, tomb: w.tomb})
		}
	}
	// Every transaction's reads also match the snapshot at its read
	// timestamp (read-only ones are only checked here).
	for _, mt := range committed {
		if _, ok := replay(t, m, mt, mt.readTS, "snapshot"); !ok {
			return
		}
	}
	// Past-timestamp reads of the engine match the model's history.
	rng := rand.New(rand.NewSource(seed))
	for i := 0; i < 60 && len(committed) > 0; i++ {
		ts := committed[rng.Intn(len(committed))].commitTS
		if rng.Intn(2) == 0 {
			ts = ts.Prev()
		}
		res, err := e.Scan(ctx, sp("m", "n"), ts, ScanOptions{})
		must(t, err)
		v := replayView{m: m, ts: ts}
		want, _ := v.scan(sp("m", "n"), ScanOptions{})
		if got := kvsString(res.KVs); got != want {
			t.Fatalf("scan at %v: engine %q, model %q", ts, got, want)
		}
	}
	// The full history matches too.
	var vs []Version
	must(t, e.Export(ctx, sp("m", "n"), Timestamp{}, e.Now(), func(v Version) error {
		vs = append(vs, cloneVersion(v))
		return nil
	}))
	n := 0
	for _, k := range m.keys() {
		n += len(m[k])
	}
	if len(vs) != n {
		t.Fatalf("engine has %d versions, model %d", len(vs), n)
	}
	if writers < workers*txnsPerWorker/10 {
		t.Fatalf("only %d writing transactions committed (%d retries)", writers, retries)
	}
	t.Logf("%d committed (%d writers), %d retries", len(committed), writers, retries)
}

// replay re-executes mt's operations against the model at ts and checks each
// read; it returns the transaction's buffered writes.
func replay(t *testing.T, m model, mt *modelTxn, ts Timestamp, what string) ([]modelWrite, bool) {
	t.Helper()
	v := &replayView{m: m, ts: ts}
	var sps []int
	for _, op := range mt.ops {
		switch op.kind {
		case opGet:
			val, ok := v.get(op.key)
			if !ok {
				val = ""
			}
			if got := fmt.Sprintf("%s/%v", val, ok); got != op.result {
				t.Errorf("%s: txn read@%v commit@%v: get %s observed %q, model %q", what, mt.readTS, mt.commitTS, op.key, op.result, got)
				return nil, false
			}
		case opScan:
			got, resumed := v.scan(op.span, op.opts)
			if got != op.result || resumed != op.resumed {
				t.Errorf("%s: txn read@%v commit@%v: scan %s %+v observed %q (resume %v), model %q (resume %v)",
					what, mt.readTS, mt.commitTS, op.span, op.opts, op.result, op.resumed, got, resumed)
				return nil, false
			}
		case opPut:
			v.buf = append(v.buf, modelWrite{key: op.key, value: op.value})
		case opDelete:
			v.buf = append(v.buf, modelWrite{key: op.key, tomb: true})
		case opDeleteRange:
			res, _ := v.scan(op.span, ScanOptions{})
			for _, kv := range bytes.Fields([]byte(res)) {
				k := string(kv[:bytes.IndexByte(kv, '=')])
				v.buf = append(v.buf, modelWrite{key: k, tomb: true})
			}
		case opSavepoint:
			sps = append(sps[:op.sp], len(v.buf))
		case opRollback:
			v.buf = v.buf[:sps[op.sp]]
			sps = sps[:op.sp+1]
		}
	}
	return v.buf, true
}
