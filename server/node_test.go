package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vcdb/vcdb/certs"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql"
)

// startTestNode starts an in-process insecure node with an in-memory
// store.
func startTestNode(t testing.TB, init sql.InitMode) *Node {
	t.Helper()
	node, err := StartNode(context.Background(), NodeConfig{
		InMemory: true, ListenAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Insecure: true,
		Init: init, Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	return node
}

// clusterURL is the node's URL routed to a virtual cluster ("" for the
// default target cluster).
func clusterURL(n *Node, cluster string) string {
	u := fmt.Sprintf("postgresql://root@%s/defaultdb?sslmode=disable", n.SQLAddr())
	if cluster != "" {
		u += "&options=-ccluster%3D" + cluster
	}
	return u
}

// TestNodeServiceStop: STOP SERVICE ends the open connections of the VC
// (FATAL 57P01 naming it) and refuses new ones (08000); START SERVICE
// serves again. /metrics counts connections per VC with a tenant label.
func TestNodeServiceStop(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	n := startTestNode(t, sql.InitVirtualized)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	system := connectURL(t, clusterURL(n, "system"))
	main := connectURL(t, clusterURL(n, ""))
	var name string
	if err := main.QueryRow(ctx, "SHOW virtual_cluster_name").Scan(&name); err != nil || name != "main" {
		t.Fatalf("default target cluster: %q %v", name, err)
	}
	metrics := httpBody(t, "http://"+n.HTTPAddr().String()+"/metrics")
	for _, want := range []string{`sql_conns{tenant="main"} 1`, `sql_conns{tenant="system"} 1`,
		`sql_new_conns{tenant="main"} 1`, `sql_new_conns{tenant="system"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}

	if _, err := system.Exec(ctx, "ALTER VIRTUAL CLUSTER main STOP SERVICE"); err != nil {
		t.Fatal(err)
	}
	_, err := main.Exec(ctx, "SELECT 1")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57P01" || pgErr.Severity != "FATAL" ||
		pgErr.Message != `terminating connection: the SQL service of virtual cluster "main" was stopped` {
		t.Fatalf("a connection of a stopped VC: %v", err)
	}
	_, err = pgx.Connect(ctx, clusterURL(n, "main"))
	if !errors.As(err, &pgErr) || pgErr.Code != "08000" || pgErr.Message != "service unavailable for target tenant (main)" {
		t.Fatalf("connecting to a stopped VC: %v", err)
	}

	if _, err := system.Exec(ctx, "ALTER VIRTUAL CLUSTER main START SERVICE SHARED"); err != nil {
		t.Fatal(err)
	}
	again := connectURL(t, clusterURL(n, "main"))
	if err := again.QueryRow(ctx, "SHOW virtual_cluster_name").Scan(&name); err != nil || name != "main" {
		t.Fatalf("after START SERVICE: %q %v", name, err)
	}
}

func httpBody(t *testing.T, u string) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	client.CloseIdleConnections()
	return string(b)
}

// TestNodeStoreInUse: a second node on a store that a running node uses
// fails with kv.ErrStoreInUse, naming the store (once) and its lock file,
// with a hint; once the first node is stopped the store opens again.
func TestNodeStoreInUse(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	dir := t.TempDir()
	cfg := NodeConfig{StoreDir: dir, ListenAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Insecure: true, Logf: t.Logf}
	first, err := StartNode(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = StartNode(context.Background(), cfg)
	if !errors.Is(err, kv.ErrStoreInUse) {
		first.Close()
		t.Fatalf("second node on the same store: %v", err)
	}
	first.Close()
	abs, _ := filepath.Abs(dir)
	if msg := err.Error(); !strings.HasPrefix(msg, "store "+abs+" is ") || !strings.Contains(msg, "(lock file "+filepath.Join(abs, "LOCK")+")") {
		t.Errorf("message: %s", msg)
	}
	if hint := errors.FlattenHints(err); !strings.Contains(hint, "another --store") {
		t.Errorf("hint: %q", hint)
	}
	again, err := StartNode(context.Background(), cfg)
	if err != nil {
		t.Fatalf("after the first node stopped: %v", err)
	}
	again.Close()
}

// TestNodeCertificateHints: a node key readable by others is refused with a
// hint to chmod it (not to create certificates, which exist); missing
// certificates still get the hint to create them.
func TestNodeCertificateHints(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	dir := t.TempDir()
	caKey := filepath.Join(t.TempDir(), "ca.key")
	opts := certs.Options{KeySize: certs.MinKeySize}
	if err := certs.CreateCA(dir, caKey, opts); err != nil {
		t.Fatal(err)
	}
	if err := certs.CreateNode(dir, caKey, []string{"127.0.0.1"}, opts); err != nil {
		t.Fatal(err)
	}
	nodeKey := filepath.Join(dir, certs.NodeKeyFilename)
	if err := os.Chmod(nodeKey, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := NodeConfig{InMemory: true, ListenAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", CertsDir: dir, Logf: t.Logf}
	_, err := StartNode(context.Background(), cfg)
	if !errors.Is(err, certs.ErrKeyPermissions) {
		t.Fatalf("0644 node key: %v", err)
	}
	if hint := errors.FlattenHints(err); hint != "Make the key readable by its owner only: chmod 600 "+nodeKey {
		t.Errorf("0644 node key: hint %q", hint)
	}
	// Fixed as the hint says, the node starts.
	if err := os.Chmod(nodeKey, 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := StartNode(context.Background(), cfg)
	if err != nil {
		t.Fatalf("after chmod 600: %v", err)
	}
	n.Close()

	cfg.CertsDir = t.TempDir()
	_, err = StartNode(context.Background(), cfg)
	if err == nil || errors.Is(err, certs.ErrKeyPermissions) {
		t.Fatalf("no certificates: %v", err)
	}
	if hint := errors.FlattenHints(err); !strings.Contains(hint, "vcdb cert create-ca") {
		t.Errorf("no certificates: hint %q", hint)
	}
}
