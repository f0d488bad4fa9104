// Command report turns the raw outputs of bench/run.sh into the results page
// (bench/results/<date>.md) and the short table of BENCHMARKS.md.
//
// Each run of `vcdb workload` wrote a --histograms file whose summary line for
// "__result" holds the run's ops/s and percentiles. For every row and system
// the report quotes the median over the repetitions (the machine is noisy:
// ±20% between passes, so single runs are not quoted as results) and the
// ratio of the medians, vcdb/PostgreSQL. It imports nothing of the project:
// it reads files.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// summary is the "__result" summary line of a --histograms file.
type summary struct {
	Summary   bool    `json:"summary"`
	Op        string  `json:"op"`
	Ops       int64   `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	Errors    int64   `json:"errors"`
}

// run is one line of runs.tsv with its summary.
type run struct {
	row, system string
	rep         int
	otherCPU    string
	retries     string // transaction retries (bank), "-" otherwise
	s           summary
}

// row is a benchmark row as run.sh declares it.
type row struct {
	name, desc, conns string
}

// cell is the medians of one row on one system.
type cell struct {
	n                   int
	opsPerSec, p50, p99 float64
}

var systems = []struct{ key, name string }{{"pg", "PostgreSQL 15"}, {"vcdb", "vcdb"}}

type rowFlags []row

func (r *rowFlags) String() string { return fmt.Sprint(*r) }
func (r *rowFlags) Set(v string) error {
	f := strings.Split(v, "|")
	if len(f) != 3 {
		return fmt.Errorf("-row %q: want name|description|connections", v)
	}
	*r = append(*r, row{f[0], f[1], f[2]})
	return nil
}

func main() {
	var rows rowFlags
	runsPath := flag.String("runs", "", "runs.tsv written by run.sh")
	machine := flag.String("machine", "", "machine description file")
	checks := flag.String("checks", "", "bank check results file")
	out := flag.String("out", "", "results page to write")
	title := flag.String("title", "", "title (the run's tag)")
	profiles := flag.String("profiles", "", "directory with the profiles' text tops")
	profilesLink := flag.String("profiles-link", "", "the profiles directory relative to the results page")
	benchmarks := flag.String("benchmarks", "", "BENCHMARKS.md to update (omit in quick mode)")
	flag.Var(&rows, "row", "name|description|connections, in table order (repeatable)")
	flag.Parse()
	if err := mainErr(*runsPath, *machine, *checks, *out, *title, *profiles, *profilesLink, *benchmarks, rows); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func mainErr(runsPath, machine, checks, out, title, profiles, profilesLink, benchmarks string, rows []row) error {
	runs, err := readRuns(runsPath)
	if err != nil {
		return err
	}
	machineText, err := os.ReadFile(machine)
	if err != nil {
		return err
	}
	var checksText []byte
	if checks != "" {
		if checksText, err = os.ReadFile(checks); err != nil {
			return err
		}
	}
	cells := medians(runs)
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	writePage(w, title, string(machineText), string(checksText), rows, runs, cells, profiles, profilesLink)
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if benchmarks != "" {
		return updateBenchmarks(benchmarks, title, string(machineText), rows, cells, filepath.Base(out))
	}
	return nil
}

func readRuns(path string) ([]run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var runs []run
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if i == 0 || line == "" {
			continue // header
		}
		f := strings.Split(line, "\t")
		if len(f) < 5 {
			return nil, fmt.Errorf("%s:%d: want at least 5 fields", path, i+1)
		}
		rep, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
		}
		s, err := readSummary(f[3])
		if err != nil {
			return nil, err
		}
		r := run{row: f[0], system: f[1], rep: rep, otherCPU: f[4], retries: "-", s: s}
		if len(f) >= 7 {
			r.retries = f[6]
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// readSummary finds the "__result" summary line of a --histograms file.
func readSummary(path string) (summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return summary{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s summary
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return summary{}, fmt.Errorf("%s: %v", path, err)
		}
		if s.Summary && s.Op == "__result" {
			return s, nil
		}
	}
	if err := sc.Err(); err != nil {
		return summary{}, err
	}
	return summary{}, fmt.Errorf("%s: no __result summary line", path)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medians groups runs by row and system.
func medians(runs []run) map[string]map[string]cell {
	type acc struct{ ops, p50, p99 []float64 }
	accs := map[string]map[string]*acc{}
	for _, r := range runs {
		if accs[r.row] == nil {
			accs[r.row] = map[string]*acc{}
		}
		a := accs[r.row][r.system]
		if a == nil {
			a = &acc{}
			accs[r.row][r.system] = a
		}
		a.ops = append(a.ops, r.s.OpsPerSec)
		a.p50 = append(a.p50, r.s.P50Ms)
		a.p99 = append(a.p99, r.s.P99Ms)
	}
	out := map[string]map[string]cell{}
	for rowName, bySys := range accs {
		out[rowName] = map[string]cell{}
		for sys, a := range bySys {
			out[rowName][sys] = cell{n: len(a.ops), opsPerSec: median(a.ops), p50: median(a.p50), p99: median(a.p99)}
		}
	}
	return out
}

func fmtOps(c cell, ok bool) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%s", thousands(c.opsPerSec))
}

func fmtLat(c cell, ok bool) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%s / %s", ms(c.p50), ms(c.p99))
}

func ms(v float64) string {
	switch {
	case v < 1:
		return strconv.FormatFloat(v, 'f', 3, 64)
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

// thousands formats a rate as an integer with thousands separators.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func ratio(cells map[string]cell) string {
	pg, ok1 := cells["pg"]
	v, ok2 := cells["vcdb"]
	if !ok1 || !ok2 || pg.opsPerSec == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v.opsPerSec/pg.opsPerSec)
}

// writeTable writes the main table: medians per row and the ratio.
func writeTable(w io.Writer, rows []row, cells map[string]map[string]cell) {
	fmt.Fprintln(w, "| workload | conns | PostgreSQL ops/s | vcdb ops/s | vcdb / PG | PostgreSQL p50 / p99 ms | vcdb p50 / p99 ms |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		c, ok := cells[r.name]
		if !ok {
			continue
		}
		pg, okPG := c["pg"]
		v, okV := c["vcdb"]
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n",
			r.desc, r.conns, fmtOps(pg, okPG), fmtOps(v, okV), ratio(c), fmtLat(pg, okPG), fmtLat(v, okV))
	}
}

func writePage(w io.Writer, title, machine, checks string, rows []row, runs []run, cells map[string]map[string]cell, profiles, profilesLink string) {
	fmt.Fprintf(w, "# vcdb against PostgreSQL 15: %s\n\n", title)
	fmt.Fprintln(w, "Written by `make bench` (bench/run.sh). Both servers ran on this machine on")
	fmt.Fprintln(w, "127.0.0.1 with durable commits; the same client (`vcdb workload`, pgx with")
	fmt.Fprintln(w, "prepared statements) drove both; runs alternated between the systems.")
	fmt.Fprintln(w, "\n```")
	fmt.Fprint(w, strings.TrimRight(machine, "\n")+"\n")
	fmt.Fprintln(w, "```")
	n := 0
	for _, r := range runs {
		n = max(n, r.rep)
	}
	fmt.Fprintf(w, "\n## Medians of %d run(s) per system\n\n", n)
	writeTable(w, rows, cells)
	fmt.Fprintln(w, "\nops/s counts operations completed in the measured interval (after the ramp);")
	fmt.Fprintln(w, "a bank operation is one transfer transaction including its retries.")

	fmt.Fprint(w, "\n## Every run\n\n")
	fmt.Fprintln(w, "| row | system | run | ops/s | p50 ms | p99 ms | max ms | errors | txn retries | other load (cores) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range runs {
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %d | %s | %s |\n", r.row, r.system, r.rep,
			thousands(r.s.OpsPerSec), ms(r.s.P50Ms), ms(r.s.P99Ms), ms(r.s.MaxMs), r.s.Errors, r.retries, r.otherCPU)
	}
	fmt.Fprintln(w, "\n\"other load\" is the CPU (in cores of the machine) that processes other than")
	fmt.Fprintln(w, "the two servers and the workload client used during the run. \"txn retries\" counts")
	fmt.Fprintln(w, "bank transactions run again after a serialization failure (40001 or 40P01).")
	if strings.TrimSpace(checks) != "" {
		fmt.Fprintln(w, "\n## Bank invariant after the runs\n\n```")
		fmt.Fprint(w, strings.TrimRight(checks, "\n")+"\n")
		fmt.Fprintln(w, "```")
	}
	if profiles != "" {
		writeProfiles(w, rows, profiles, profilesLink)
	}
}

// writeProfiles adds the top of each CPU and allocation profile.
func writeProfiles(w io.Writer, rows []row, dir, link string) {
	fmt.Fprint(w, "\n## vcdb profiles\n\n")
	fmt.Fprintf(w, "Taken in a separate pass after the measured runs, one run per row; files in `%s/`\n", link)
	fmt.Fprintln(w, "(`go tool pprof -top FILE`). Allocations are the difference across that run.")
	for _, r := range rows {
		for _, kind := range []string{"cpu", "allocs"} {
			data, err := os.ReadFile(filepath.Join(dir, r.name+"-"+kind+".txt"))
			if err != nil || len(data) == 0 {
				continue
			}
			lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
			if len(lines) > 22 {
				lines = lines[:22]
			}
			fmt.Fprintf(w, "\n### %s, %s (%s-%s.pb.gz)\n\n```\n%s\n```\n", r.desc, kind, r.name, kind, strings.Join(lines, "\n"))
		}
	}
}

const (
	beginMarker = "<!-- bench-table:begin (written by bench/report) -->"
	endMarker   = "<!-- bench-table:end -->"
)

// updateBenchmarks replaces the table between the markers of BENCHMARKS.md
// (appending the markers when the file has none).
func updateBenchmarks(path, title, machine string, rows []row, cells map[string]map[string]cell, resultsFile string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var b strings.Builder
	fmt.Fprintln(&b, beginMarker)
	fmt.Fprintf(&b, "Latest full run: %s ([bench/results/%s](bench/results/%s)).\n\n", title, resultsFile, resultsFile)
	for _, line := range strings.Split(machine, "\n") {
		if strings.HasPrefix(line, "machine:") || strings.HasPrefix(line, "postgresql:") || strings.HasPrefix(line, "vcdb:") ||
			strings.HasPrefix(line, "runs:") || strings.HasPrefix(line, "pg_test_fsync") || strings.HasPrefix(line, "disk:") ||
			strings.HasPrefix(line, "vcdb block cache:") {
			fmt.Fprintf(&b, "- %s\n", line)
		}
	}
	fmt.Fprintln(&b)
	writeTable(&b, rows, cells)
	fmt.Fprintln(&b, endMarker)
	s := string(old)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i >= 0 && j > i {
		s = s[:i] + b.String() + strings.TrimPrefix(s[j+len(endMarker):], "\n")
	} else {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		s += "\n" + b.String()
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
