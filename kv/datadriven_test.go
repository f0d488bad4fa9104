package kv

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestDataDriven runs the behaviour scripts in testdata/kv. Each file starts
// with a fresh in-memory engine on a manual wall clock, so timestamps are
// deterministic; every commit timestamp gets a name (as=<name>, or ts1, ts2,
// ... in order) and output prints names rather than numbers.
//
// Directives:
//
//	open [ttl=<duration>]                  fresh engine (default GC TTL)
//	advance by=<duration>                  move the wall clock
//	put k=<key> v=<value> [as=<name>]      one-write transaction
//	del k=<key> [as=<name>]
//	get k=<key> at=<ts>                    <ts> is a name or "now"
//	scan span=<a>-<b> at=<ts> [reverse] [max-rows=<n>] [max-bytes=<n>]
//	history span=<a>-<b>                   every version, newest first per key
//	txn name=<t> [at=<ts>] [read-only]     begin
//	txn-put|txn-del|txn-get t=<t> k=<key> [v=<value>]
//	txn-scan t=<t> span=<a>-<b> [reverse] [max-rows=<n>]
//	txn-delrange t=<t> span=<a>-<b>
//	savepoint t=<t> name=<s>  /  rollback-to t=<t> name=<s>
//	commit t=<t> [as=<name>]
//	revert span=<a>-<b> to=<ts>
//	fingerprint span=<a>-<b> start=<ts|0> end=<ts> [strip=<n>]
//	gc-ttl span=<a>-<b> ttl=<duration>
//	protect id=<id> span=<a>-<b> at=<ts>  /  unprotect id=<id>
//	gc                                     one pass; prints stats and thresholds
//	clock                                  Now relative to the wall clock
//	restart [crash] [down=<duration>]      reopen the store: after Close, or
//	                                       from what a crash leaves (synced
//	                                       data only); the wall clock moves
//	                                       by down (may be negative) while it
//	                                       is down. Prints how long Open
//	                                       waited for the wall clock and
//	                                       checks the clock is above every
//	                                       timestamp handed out before.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "../testdata/kv", func(t *testing.T, path string) {
		d := &ddState{t: t}
		defer d.close()
		d.open(DefaultGCTTL)
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			out, err := d.run(td)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}

type ddState struct {
	t    *testing.T
	wall *manualWall
	mem  *vfs.MemFS
	ttl  time.Duration
	e    *Engine
	// waited is how long the last Open slept for the wall clock.
	waited time.Duration
	// maxSeen is the newest timestamp handed out (commits, Now) since
	// the engine was opened first.
	maxSeen Timestamp
	names   map[string]Timestamp
	auto    int
	txns    map[string]*Txn
	sps     map[string]Savepoint
}

func (d *ddState) close() {
	if d.e != nil {
		_ = d.e.Close()
	}
}

func (d *ddState) open(ttl time.Duration) {
	d.close()
	d.wall = newManualWall(int64(1000 * time.Second))
	d.mem = vfs.NewCrashableMem()
	d.ttl = ttl
	d.maxSeen = Timestamp{}
	d.reopen()
	d.names = map[string]Timestamp{}
	d.auto = 0
	d.txns = map[string]*Txn{}
	d.sps = map[string]Savepoint{}
}

// reopen opens the engine on d.mem; Open's waits advance the manual wall
// clock instead of sleeping.
func (d *ddState) reopen() {
	d.waited = 0
	e, err := Open(Options{FS: d.mem, Dir: "db", WallClock: d.wall.now, GCInterval: -1, DefaultGCTTL: d.ttl,
		sleep: func(dur time.Duration) {
			d.waited += dur
			d.wall.add(int64(dur))
		}})
	if err != nil {
		d.t.Fatal(err)
	}
	d.e = e
}

// seen records a timestamp handed out, for restart's monotonicity check.
func (d *ddState) seen(ts Timestamp) Timestamp {
	if d.maxSeen.Less(ts) {
		d.maxSeen = ts
	}
	return ts
}

// relWall formats ts relative to the manual wall clock.
func (d *ddState) relWall(ts Timestamp) string {
	s := "wall"
	switch diff := time.Duration(ts.WallTime - d.wall.now()); {
	case diff > 0:
		s += "+" + diff.String()
	case diff < 0:
		s += diff.String()
	}
	if ts.Logical != 0 {
		s += fmt.Sprintf(" logical %d", ts.Logical)
	}
	return s
}

func (d *ddState) name(td *datadriven.TestData, ts Timestamp) string {
	var n string
	if !td.MaybeScanArgs(d.t, "as", &n) {
		d.auto++
		n = fmt.Sprintf("ts%d", d.auto)
	}
	d.names[n] = d.seen(ts)
	return n
}

func (d *ddState) tsName(ts Timestamp) string {
	var names []string
	for n, x := range d.names {
		if x == ts {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ts.String()
	}
	sort.Strings(names)
	return names[0]
}

func (d *ddState) ts(td *datadriven.TestData, arg string) Timestamp {
	var n string
	td.ScanArgs(d.t, arg, &n)
	switch n {
	case "now":
		return d.seen(d.e.Now())
	case "0":
		return Timestamp{}
	}
	if strings.HasSuffix(n, ".prev") {
		return d.names[strings.TrimSuffix(n, ".prev")].Prev()
	}
	ts, ok := d.names[n]
	if !ok {
		d.t.Fatalf("%s: unknown timestamp %q", td.Pos, n)
	}
	return ts
}

func (d *ddState) span(td *datadriven.TestData) Span {
	var s string
	td.ScanArgs(d.t, "span", &s)
	a, b, _ := strings.Cut(s, "-")
	return sp(a, b)
}

func (d *ddState) scanOpts(td *datadriven.TestData) ScanOptions {
	o := ScanOptions{Reverse: td.HasArg("reverse")}
	td.MaybeScanArgs(d.t, "max-rows", &o.MaxRows)
	td.MaybeScanArgs(d.t, "max-bytes", &o.MaxBytes)
	return o
}

func (d *ddState) txn(td *datadriven.TestData) *Txn {
	var n string
	td.ScanArgs(d.t, "t", &n)
	txn, ok := d.txns[n]
	if !ok {
		d.t.Fatalf("%s: unknown transaction %q", td.Pos, n)
	}
	return txn
}

func arg(td *datadriven.TestData, t *testing.T, key string) string {
	var s string
	td.ScanArgs(t, key, &s)
	return s
}

func formatScan(res ScanResult) string {
	var b strings.Builder
	for _, kv := range res.KVs {
		fmt.Fprintf(&b, "%s=%s\n", kv.Key, kv.Value)
	}
	if len(res.KVs) == 0 {
		b.WriteString("<empty>\n")
	}
	if res.ResumeSpan != nil {
		fmt.Fprintf(&b, "resume: %s\n", res.ResumeSpan)
	}
	return b.String()
}

func formatGet(key string, v []byte, ok bool) string {
	if !ok {
		return key + ": <none>\n"
	}
	return fmt.Sprintf("%s=%s\n", key, v)
}

func (d *ddState) run(td *datadriven.TestData) (string, error) {
	ctx := context.Background()
	t := d.t
	switch td.Cmd {
	case "open":
		ttl := DefaultGCTTL
		if td.HasArg("ttl") {
			var err error
			if ttl, err = time.ParseDuration(arg(td, t, "ttl")); err != nil {
				return "", err
			}
		}
		d.open(ttl)
		return "ok\n", nil
	case "clock":
		return "now: " + d.relWall(d.seen(d.e.Now())) + "\n", nil
	case "restart":
		if td.HasArg("crash") {
			// What a crash would leave: only synced data. The engine
			// is closed afterwards only to stop its goroutines; its
			// writes go to the old file system.
			crashed := d.mem.CrashClone(vfs.CrashCloneCfg{})
			_ = d.e.Close()
			d.mem = crashed
		} else if err := d.e.Close(); err != nil {
			return "", err
		}
		d.e = nil
		if td.HasArg("down") {
			down, err := time.ParseDuration(arg(td, t, "down"))
			if err != nil {
				return "", err
			}
			d.wall.add(int64(down))
		}
		d.reopen()
		now := d.e.Now()
		if !d.maxSeen.Less(now) {
			return "", errors.Newf("clock %s not above %s handed out before the restart", now, d.maxSeen)
		}
		return fmt.Sprintf("waited %s\nnow: %s\n", d.waited, d.relWall(d.seen(now))), nil
	case "advance":
		by, err := time.ParseDuration(arg(td, t, "by"))
		if err != nil {
			return "", err
		}
		d.wall.add(int64(by))
		return "ok\n", nil
	case "put", "del":
		txn := d.e.Begin(TxnOptions{})
		k := []byte(arg(td, t, "k"))
		var err error
		if td.Cmd == "put" {
			err = txn.Put(k, []byte(arg(td, t, "v")))
		} else {
			err = txn.Delete(k)
		}
		if err != nil {
			return "", err
		}
		ts, err := txn.Commit(ctx)
		if err != nil {
			return "", err
		}
		return d.name(td, ts) + "\n", nil
	case "get":
		k := arg(td, t, "k")
		v, ok, err := d.e.Get(ctx, []byte(k), d.ts(td, "at"))
		if err != nil {
			return "", err
		}
		return formatGet(k, v, ok), nil
	case "scan":
		res, err := d.e.Scan(ctx, d.span(td), d.ts(td, "at"), d.scanOpts(td))
		if err != nil {
			return "", err
		}
		return formatScan(res), nil
	case "history":
		var b strings.Builder
		err := d.e.Export(ctx, d.span(td), Timestamp{}, d.e.Now(), func(v Version) error {
			if v.Tombstone {
				fmt.Fprintf(&b, "%s@%s <tombstone>\n", v.Key, d.tsName(v.Timestamp))
			} else {
				fmt.Fprintf(&b, "%s@%s=%s\n", v.Key, d.tsName(v.Timestamp), v.Value)
			}
			return nil
		})
		if b.Len() == 0 {
			b.WriteString("<empty>\n")
		}
		return b.String(), err
	case "txn":
		opts := TxnOptions{ReadOnly: td.HasArg("read-only")}
		if td.HasArg("at") {
			opts.ReadTimestamp = d.ts(td, "at")
		}
		d.txns[arg(td, t, "name")] = d.e.Begin(opts)
		return "ok\n", nil
	case "txn-put":
		return "ok\n", d.txn(td).Put([]byte(arg(td, t, "k")), []byte(arg(td, t, "v")))
	case "txn-del":
		return "ok\n", d.txn(td).Delete([]byte(arg(td, t, "k")))
	case "txn-delrange":
		return "ok\n", d.txn(td).DeleteRange(d.span(td))
	case "txn-get":
		k := arg(td, t, "k")
		v, ok, err := d.txn(td).Get(ctx, []byte(k))
		if err != nil {
			return "", err
		}
		return formatGet(k, v, ok), nil
	case "txn-scan":
		res, err := d.txn(td).Scan(ctx, d.span(td), d.scanOpts(td))
		if err != nil {
			return "", err
		}
		return formatScan(res), nil
	case "savepoint":
		d.sps[arg(td, t, "name")] = d.txn(td).Savepoint()
		return "ok\n", nil
	case "rollback-to":
		return "ok\n", d.txn(td).RollbackTo(d.sps[arg(td, t, "name")])
	case "commit":
		ts, err := d.txn(td).Commit(ctx)
		if err != nil {
			if IsRetryable(err) {
				return "retryable error\n", nil
			}
			return "", err
		}
		return d.name(td, ts) + "\n", nil
	case "revert":
		return "ok\n", d.e.RevertRange(ctx, d.span(td), d.ts(td, "to"))
	case "fingerprint":
		var opts FingerprintOptions
		td.MaybeScanArgs(t, "strip", &opts.StripPrefix)
		fp, err := d.e.Fingerprint(ctx, d.span(td), d.ts(td, "start"), d.ts(td, "end"), opts)
		if err != nil {
			return "", err
		}
		return strconv.FormatUint(fp, 16) + "\n", nil
	case "gc-ttl":
		ttl, err := time.ParseDuration(arg(td, t, "ttl"))
		if err != nil {
			return "", err
		}
		return "ok\n", d.e.SetGCTTL(ctx, d.span(td), ttl)
	case "protect":
		return "ok\n", d.e.Protect(ctx, ProtectedTimestamp{ID: arg(td, t, "id"), Span: d.span(td), Timestamp: d.ts(td, "at")})
	case "unprotect":
		return "ok\n", d.e.Unprotect(ctx, arg(td, t, "id"))
	case "gc":
		stats, err := d.e.RunGC(ctx)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "removed %d versions of %d keys\n", stats.VersionsRemoved, stats.KeysScanned)
		for _, r := range d.e.gc.thresholds.Load().ranges {
			fmt.Fprintf(&b, "threshold %s: %s\n", r.span, d.describe(r.threshold))
		}
		return b.String(), nil
	}
	t.Fatalf("%s: unknown directive %s", td.Pos, td.Cmd)
	return "", nil
}

// describe names a threshold relative to the named timestamps around it.
func (d *ddState) describe(ts Timestamp) string {
	if n := d.tsName(ts); n != ts.String() {
		return n
	}
	var below string
	var best Timestamp
	for n, x := range d.names {
		if x.LessEq(ts) && (best.Less(x) || (best == x && n < below)) {
			best, below = x, n
		}
	}
	if below == "" {
		return "before every named timestamp"
	}
	return "after " + below
}
