package kv

import (
	"context"
	"fmt"
	"testing"
)

func scanAll(t *testing.T, e *Engine, span Span, ts Timestamp) string {
	t.Helper()
	res, err := e.Scan(context.Background(), span, ts, ScanOptions{})
	must(t, err)
	return kvsString(res.KVs)
}

func TestRevertRange(t *testing.T) {
	e := openTest(t, Options{})
	ctx := context.Background()
	put(t, e, "a", "1")
	put(t, e, "b", "1")
	put(t, e, "x", "outside")
	target := put(t, e, "c", "1")
	put(t, e, "a", "2")
	del(t, e, "b")
	put(t, e, "d", "new")
	put(t, e, "x", "outside2")
	before := scanAll(t, e, sp("a", "w"), target)
	must(t, e.RevertRange(ctx, sp("a", "w"), target))
	for _, ts := range []Timestamp{target, e.Now()} {
		if got := scanAll(t, e, sp("a", "w"), ts); got != before {
			t.Fatalf("after revert at %v: %q, want %q", ts, got, before)
		}
	}
	if got := get(t, e, "x", e.Now()); got != "outside2" {
		t.Fatalf("revert touched a key outside the span: %q", got)
	}
	// Idempotent, and new writes land above.
	must(t, e.RevertRange(ctx, sp("a", "w"), target))
	put(t, e, "a", "3")
	if got := scanAll(t, e, sp("a", "w"), e.Now()); got != "a=3 b=1 c=1" {
		t.Fatalf("after new write: %q", got)
	}
}

func TestFingerprint(t *testing.T) {
	e := openTest(t, Options{})
	ctx := context.Background()
	t0 := e.Now()
	put(t, e, "\xfe\x02a", "1")
	t1 := put(t, e, "\xfe\x02b", "2")
	put(t, e, "\xfe\x02a", "3")
	del(t, e, "\xfe\x02b")
	t2 := e.Now()
	fpAll, err := e.Fingerprint(ctx, sp("\xfe\x02", "\xfe\x03"), t0, t2, FingerprintOptions{})
	must(t, err)
	fpAgain, _ := e.Fingerprint(ctx, sp("\xfe\x02", "\xfe\x03"), t0, t2, FingerprintOptions{})
	fpOld, _ := e.Fingerprint(ctx, sp("\xfe\x02", "\xfe\x03"), t0, t1, FingerprintOptions{})
	if fpAll != fpAgain || fpAll == fpOld || fpAll == 0 {
		t.Fatalf("fingerprints: %x %x %x", fpAll, fpAgain, fpOld)
	}
	// Split spans combine by XOR.
	l, _ := e.Fingerprint(ctx, sp("\xfe\x02", "\xfe\x02b"), t0, t2, FingerprintOptions{})
	r, _ := e.Fingerprint(ctx, sp("\xfe\x02b", "\xfe\x03"), t0, t2, FingerprintOptions{})
	if l^r != fpAll {
		t.Fatal("fingerprint does not compose over sub-spans")
	}
	// The same data under another tenant prefix hashes equal with
	// StripPrefix, and a copy made with Export + WriteVersions matches.
	var vs []Version
	must(t, e.Export(ctx, sp("\xfe\x02", "\xfe\x03"), Timestamp{}, t2, func(v Version) error {
		vs = append(vs, Version{Key: append([]byte("\xfe\x03"), v.Key[2:]...), Timestamp: v.Timestamp,
			Value: append([]byte(nil), v.Value...), Tombstone: v.Tombstone})
		return nil
	}))
	if len(vs) != 4 {
		t.Fatalf("export returned %d versions", len(vs))
	}
	must(t, e.WriteVersions(ctx, vs))
	f2, _ := e.Fingerprint(ctx, sp("\xfe\x02", "\xfe\x03"), t0, t2, FingerprintOptions{StripPrefix: 2})
	f3, _ := e.Fingerprint(ctx, sp("\xfe\x03", "\xfe\x04"), t0, t2, FingerprintOptions{StripPrefix: 2})
	if f2 != f3 {
		t.Fatalf("stripped fingerprints differ: %x %x", f2, f3)
	}
	if FingerprintVersions(vs, FingerprintOptions{StripPrefix: 2}) != f3 {
		t.Fatal("FingerprintVersions disagrees with Fingerprint")
	}
}

func TestIngestAndExport(t *testing.T) {
	src := openTest(t, Options{})
	dst := openTest(t, Options{})
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		put(t, src, fmt.Sprintf("k%03d", i%30), fmt.Sprint(i))
		if i%7 == 0 {
			del(t, src, fmt.Sprintf("k%03d", (i+1)%30))
		}
	}
	mid := src.Now()
	for i := 0; i < 20; i++ {
		put(t, src, fmt.Sprintf("k%03d", i), "late")
	}
	end := src.Now()
	var vs []Version
	// Initial copy up to mid via SST ingest, then the rest via
	// incremental export + WriteVersions.
	must(t, src.Export(ctx, sp("k", "l"), Timestamp{}, mid, func(v Version) error {
		vs = append(vs, cloneVersion(v))
		return nil
	}))
	// Unsorted input and duplicates are fine.
	vs = append(vs, vs[3], vs[0])
	vs[0], vs[len(vs)-3] = vs[len(vs)-3], vs[0]
	must(t, dst.IngestVersions(ctx, vs))
	must(t, dst.IngestVersions(ctx, vs[:10])) // overlapping re-ingest
	var inc []Version
	must(t, src.Export(ctx, sp("k", "l"), mid, end, func(v Version) error {
		inc = append(inc, cloneVersion(v))
		return nil
	}))
	if len(inc) != 20 {
		t.Fatalf("incremental export: %d versions", len(inc))
	}
	must(t, dst.WriteVersions(ctx, inc))
	must(t, dst.WriteVersions(ctx, inc)) // replay is idempotent
	for _, ts := range []Timestamp{mid, end} {
		a, _ := src.Fingerprint(ctx, sp("k", "l"), Timestamp{}, ts, FingerprintOptions{})
		b, _ := dst.Fingerprint(ctx, sp("k", "l"), Timestamp{}, ts, FingerprintOptions{})
		if a != b {
			t.Fatalf("fingerprint at %v: %x vs %x", ts, a, b)
		}
		if scanAll(t, src, sp("k", "l"), ts) != scanAll(t, dst, sp("k", "l"), ts) {
			t.Fatal("scans differ")
		}
	}
	if !end.Less(dst.Now()) {
		t.Fatal("clock not moved past ingested data")
	}
	// ClearRange removes everything physically.
	must(t, dst.ClearRange(ctx, sp("k", "l")))
	if got := scanAll(t, dst, sp("k", "l"), mid); got != "" {
		t.Fatalf("after ClearRange: %q", got)
	}
	n := 0
	must(t, dst.Export(ctx, sp("k", "l"), Timestamp{}, dst.Now(), func(Version) error { n++; return nil }))
	if n != 0 {
		t.Fatalf("%d versions survive ClearRange", n)
	}
	if err := dst.WriteVersions(ctx, []Version{{Key: []byte{1}, Timestamp: end}}); err == nil {
		t.Fatal("writing a reserved key must fail")
	}
}

func cloneVersion(v Version) Version {
	out := Version{Key: append([]byte(nil), v.Key...), Timestamp: v.Timestamp, Tombstone: v.Tombstone}
	if !v.Tombstone {
		out.Value = append([]byte{}, v.Value...)
	}
	return out
}
