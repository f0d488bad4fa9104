package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vcdb/vcdb/certs"
	"github.com/vcdb/vcdb/workload"
)

// demoLine is a "# label: URL" line of the demo's banner.
var demoLine = regexp.MustCompile(`^# ([A-Za-z ,()-]+):\s+(\S+)$`)

// TestDemoWithoutTerminal runs `vcdb demo` the way `make demo` does on a
// machine without a terminal: it must print working URLs of the primary's
// main (bank workload), the standby's system VC and main-readonly, and the
// replication status; the copy must keep the bank invariant and refuse
// writes; SIGTERM must stop it cleanly and remove its certificates.
func TestDemoWithoutTerminal(t *testing.T) {
	cmd := exec.Command(vcdbBinary(t), "demo")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	defer func() {
		_ = cmd.Process.Kill()
	}()

	// The banner ends with the no-terminal line.
	banner := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if !sent && strings.HasPrefix(sc.Text(), "# No terminal on stdin") {
				banner <- lines
				sent = true
			}
		}
		exited <- cmd.Wait()
	}()
	var lines []string
	select {
	case lines = <-banner:
	case err := <-exited:
		t.Fatalf("vcdb demo exited early: %v\n%s", err, stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatal("vcdb demo printed no banner within 90s")
	}
	urls := map[string]string{}
	status := ""
	for _, l := range lines {
		if m := demoLine.FindStringSubmatch(l); m != nil {
			urls[m[1]] = m[2]
		}
		if strings.Contains(l, "| main ") {
			status = l
		}
	}
	for _, label := range []string{"Primary, main (the workload)", "Primary, system", "Standby, system (replication)",
		"Standby, main-readonly", "Standby, main (after failover)", "HTTP of the primary", "HTTP of the standby"} {
		if urls[label] == "" {
			t.Fatalf("no %q URL in the banner:\n%s", label, strings.Join(lines, "\n"))
		}
	}
	// The status row: name | source | status | replicated_time | lag.
	if !regexp.MustCompile(`^\s*main \| main\s+\| replicating \| \d{4}-\d\d-\d\d [0-9:.]+\+00 \| \d\d:\d\d:[0-9.]+$`).MatchString(status) {
		t.Fatalf("replication status row %q, in:\n%s", status, strings.Join(lines, "\n"))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	check := func(label string) workload.BankCheck {
		t.Helper()
		conn, err := workload.NewConnector([]string{urls[label]}, "")
		if err != nil {
			t.Fatal(err)
		}
		res, err := workload.CheckBank(ctx, conn, "")
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		return res
	}
	for _, label := range []string{"Primary, main (the workload)", "Standby, main-readonly"} {
		if res := check(label); res.Accounts != demoBankRows || res.Total != res.Expected {
			t.Fatalf("%s: %s", label, res)
		}
	}
	connect := func(label string) *pgx.Conn {
		t.Helper()
		cfg, err := certs.ParsePGXConfig(urls[label])
		if err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		return conn
	}
	// The copy is read-only.
	ro := connect("Standby, main-readonly")
	_, err = ro.Exec(ctx, "UPDATE bank.bank SET balance = balance + 1 WHERE id = 1")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25006" {
		t.Fatalf("a write on main-readonly: %v, want SQLSTATE 25006", err)
	}
	_ = ro.Close(ctx)
	// The workload runs: the copy's replicated time moves.
	sys := connect("Standby, system (replication)")
	replicated := func() time.Time {
		var ts time.Time
		var st string
		if err := sys.QueryRow(ctx, "SELECT replicated_time, status FROM [SHOW VIRTUAL CLUSTER main WITH REPLICATION STATUS]").Scan(&ts, &st); err != nil {
			t.Fatal(err)
		}
		if st != "replicating" {
			t.Fatalf("status %q", st)
		}
		return ts
	}
	first := replicated()
	for deadline := time.Now().Add(30 * time.Second); !replicated().After(first); {
		if time.Now().After(deadline) {
			t.Fatal("the replicated time did not move in 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = sys.Close(ctx)

	u, err := url.Parse(urls["Primary, main (the workload)"])
	if err != nil {
		t.Fatal(err)
	}
	caPath := u.Query().Get("sslrootcert")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("vcdb demo exited with %v after SIGTERM\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("vcdb demo did not stop within 30s of SIGTERM")
	}
	if _, err := os.Stat(caPath); !os.IsNotExist(err) {
		t.Fatalf("the demo's certificates are still there after it stopped (%s: %v)", caPath, err)
	}
}

// TestDemoFailover runs the demo in this process and `\demo failover` in
// its shell: the failover steps run and print the standby's virtual
// clusters with main ready and shared, the shell moves to the promoted
// main, where the bank invariant holds, and the workload follows it.
func TestDemoFailover(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	d, err := startPCRDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()

	u, err := certs.ParseURIFields(d.url("primary", "main"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	conn, err := connectSQL(ctx, u, &out)
	if err != nil {
		t.Fatal(err)
	}
	s := &sqlSession{conn: conn, out: &out, errOut: &out, format: formatTable, now: stepClock(time.Millisecond)}
	input := strings.Join([]string{
		`\demo status`,
		`\demo failover`,
		`SHOW virtual_cluster_name;`,
		`SELECT count(*), sum(balance) FROM bank.bank;`,
		`\demo failover`,
		`\demo status`,
	}, "\n") + "\n"
	sh := newShell(s, u, &plainLineReader{r: bufio.NewReader(strings.NewReader(input)), out: &out})
	sh.demo = d
	if err := sh.start(ctx, u); err != nil {
		t.Fatal(err)
	}
	closeSQLConn(ctx, sh.s.conn)
	transcript := out.String()
	standbyPort := strings.TrimPrefix(d.standby.SQLAddr().String(), "127.0.0.1:")
	for _, want := range []*regexp.Regexp{
		// \demo status before the failover.
		regexp.MustCompile(`(?m)^\s+main \| main\s+\| replicating \|`),
		// The failover's steps and result.
		regexp.MustCompile(`(?m)^#   ALTER VIRTUAL CLUSTER main COMPLETE REPLICATION TO LATEST;\n#   failover_time: \d{19}\.\d{10}$`),
		regexp.MustCompile(`(?m)^#   ALTER VIRTUAL CLUSTER main START SERVICE SHARED;\n# Failed over in `),
		regexp.MustCompile(`(?m)^\s+2 \| main\s+\| ready\s+\| shared$`),
		regexp.MustCompile(`(?m)^# Connected to: postgresql://root@127\.0\.0\.1:` + standbyPort + `/defaultdb\?options=-ccluster%3Dmain&`),
		// Then the shell talks to the promoted main on the standby.
		regexp.MustCompile(`(?m)^root@127\.0\.0\.1:` + standbyPort + `/defaultdb> SHOW virtual_cluster_name;\n.*\n.*\n\s+main$`),
		regexp.MustCompile(`(?m)^\s+` + "100" + ` \| 100000$`),
		regexp.MustCompile(`(?m)^ERROR: the demo has failed over already`),
		// \demo status after it: both clusters' virtual clusters.
		regexp.MustCompile(`(?m)^# standby: SHOW VIRTUAL CLUSTERS$`),
	} {
		if !want.MatchString(transcript) {
			t.Errorf("transcript does not match %s:\n%s", want, transcript)
		}
	}

	// The workload moved to the promoted main: its rows change there.
	d.mu.Lock()
	target := d.mu.wlTarget
	d.mu.Unlock()
	if target != "standby" {
		t.Fatalf("the workload runs on the %s after the failover", target)
	}
	cfg, err := certs.ParsePGXConfig(d.url("standby", "main"))
	if err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pc, err := pgx.ConnectConfig(qctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Close(ctx) }()
	rows := func() string {
		var b strings.Builder
		r, err := pc.Query(qctx, "SELECT id, balance FROM bank.bank ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for r.Next() {
			var id, bal int64
			if err := r.Scan(&id, &bal); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%d=%d,", id, bal)
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	first := rows()
	for rows() == first {
		if qctx.Err() != nil {
			t.Fatal("no transfer on the promoted main within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
