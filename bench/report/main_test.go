package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSummary(t *testing.T, dir, name string, ops, p50, p99 float64) string {
	t.Helper()
	p := filepath.Join(dir, name+".json")
	data := fmt.Sprintf(`{"elapsed_s":1,"op":"read","ops":5}
{"summary":true,"elapsed_s":15,"errors":0,"op":"read","ops":1,"ops_per_sec":1,"p50_ms":9,"p99_ms":9,"max_ms":9}
{"summary":true,"elapsed_s":15,"errors":0,"op":"__result","ops":100,"ops_per_sec":%g,"p50_ms":%g,"p99_ms":%g,"max_ms":20}
`, ops, p50, p99)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReport checks medians, the ratio of medians, the page and the
// replacement of BENCHMARKS.md's table between its markers.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	var tsv strings.Builder
	tsv.WriteString("row\tsystem\trep\tjson\tother_cpu\tquiet_before\n")
	for i, r := range []struct {
		sys           string
		ops, p50, p99 float64
	}{
		{"pg", 1000, 0.1, 1}, {"vcdb", 400, 0.3, 3},
		{"vcdb", 600, 0.2, 2}, {"pg", 3000, 0.3, 9},
		{"pg", 2000, 0.2, 2}, {"vcdb", 500, 0.25, 2.5},
	} {
		p := writeSummary(t, dir, fmt.Sprintf("run%d", i), r.ops, r.p50, r.p99)
		fmt.Fprintf(&tsv, "kv95-c8\t%s\t%d\t%s\t0.05\t0.01\n", r.sys, i/2+1, p)
	}
	runs := filepath.Join(dir, "runs.tsv")
	machine := filepath.Join(dir, "machine.txt")
	bench := filepath.Join(dir, "BENCHMARKS.md")
	out := filepath.Join(dir, "2026-11-22.md")
	for path, data := range map[string]string{
		runs:    tsv.String(),
		machine: "machine: 2 cores\nvcdb: v1\nsecret: not in BENCHMARKS\n",
		bench:   "# Benchmarks\n\nintro\n\n" + beginMarker + "\nold table\n" + endMarker + "\n\ntrailer\n",
	} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rows := []row{{"kv95-c8", "kv95", "8"}, {"bank-c8", "bank", "8"}}
	if err := mainErr(runs, machine, "", out, "2026-11-22", "", "", bench, rows); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(out)
	// Medians: PG 2,000 ops/s (p50 0.2, p99 2), vcdb 500 (0.25, 2.5); ratio 0.25.
	want := "| kv95 | 8 | 2,000 | 500 | 0.25× | 0.200 / 2.00 | 0.250 / 2.50 |"
	if !strings.Contains(string(page), want) {
		t.Fatalf("page lacks %q:\n%s", want, page)
	}
	if strings.Contains(string(page), "| bank |") {
		t.Fatalf("a row without runs is listed:\n%s", page)
	}
	md, _ := os.ReadFile(bench)
	s := string(md)
	if !strings.Contains(s, want) || strings.Contains(s, "old table") || !strings.HasPrefix(s, "# Benchmarks\n\nintro\n\n") ||
		!strings.HasSuffix(s, endMarker+"\n\ntrailer\n") || strings.Contains(s, "secret") || !strings.Contains(s, "- machine: 2 cores") {
		t.Fatalf("BENCHMARKS.md:\n%s", s)
	}
	// Running again replaces the table rather than adding one.
	if err := mainErr(runs, machine, "", out, "2026-11-22", "", "", bench, rows); err != nil {
		t.Fatal(err)
	}
	md2, _ := os.ReadFile(bench)
	if string(md2) != s {
		t.Fatalf("second run changed BENCHMARKS.md:\n%s", md2)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
