package sql

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/password"
	"github.com/vcdb/vcdb/tenant"
)

// collect runs statements and returns everything a client or a log could
// see of them: tags, rows (as text), error messages with details and
// hints, notices, and the text SHOW SESSIONS and logs show for the
// statement (activeQueryText) and its formatted tree.
func collect(t *testing.T, s *Session, sql string, args ...tree.Datum) string {
	t.Helper()
	ctx := context.Background()
	stmts, err := s.Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, st := range stmts {
		p, err := s.Prepare(ctx, st, nil)
		if err == nil {
			fmt.Fprintln(&b, activeQueryText(p), "|", tree.AsString(st.AST))
			var rows []tree.Datums
			var tag string
			rows, tag, err = execPrepared(s, p, args...)
			fmt.Fprintln(&b, tag)
			for _, r := range rows {
				fmt.Fprintln(&b, formatRowForTest(s, r))
			}
		}
		if err != nil {
			pg := pgerror.Flatten(err)
			fmt.Fprintln(&b, pg.Code, pg.Message, pg.Detail, pg.Hint, err.Error())
		}
		for _, n := range s.TakeNotices() {
			fmt.Fprintln(&b, n.Error())
		}
	}
	return b.String()
}

// TestSecretsNeverShown checks that a password, its verifier and the
// secrets of an external connection's URI appear in no output, error,
// notice, or shown or formatted statement text, and that the same
// password is stored under different verifiers (salted).
func TestSecretsNeverShown(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	h, _, stop := testHost(t, HostConfig{})
	defer stop()
	s := rootSession(t, h.System())
	defer s.Close()

	const pw1, pw2, pw3 = "Pw-alpha-31337", "Pw-bravo-424242", "Pw-charlie-777"
	var out strings.Builder
	for _, q := range []string{
		"CREATE USER alice WITH LOGIN PASSWORD '" + pw1 + "'",
		"CREATE USER bob WITH PASSWORD '" + pw1 + "'",
		// Errors of statements that carry a password.
		"CREATE USER alice WITH PASSWORD '" + pw1 + "'",
		"ALTER USER nobody WITH PASSWORD '" + pw2 + "'",
		"CREATE USER \"Bad Name\" WITH PASSWORD '" + pw2 + "'",
		"ALTER USER alice WITH PASSWORD '" + pw2 + "'",
		"CREATE EXTERNAL CONNECTION src AS 'postgresql://repl:" + pw3 + "@h:26257/defaultdb?sslinline=true&sslkey=KEYMATERIAL'",
		"CREATE EXTERNAL CONNECTION src AS 'postgresql://repl:" + pw3 + "@h:26257'",
		"SHOW USERS", "SHOW ROLES", "SHOW GRANTS ON ROLE", "SHOW SYSTEM GRANTS", "SHOW GRANTS",
		"SHOW EXTERNAL CONNECTIONS", "SHOW SESSIONS",
		"SELECT * FROM pg_catalog.pg_roles",
		"SELECT * FROM [SHOW USERS]",
	} {
		out.WriteString(collect(t, s, q))
	}
	// A placeholder password.
	out.WriteString(collect(t, s, "ALTER USER bob WITH PASSWORD $1", tree.NewDString(pw3)))

	alice, found, err := h.System().LookupUser(ctx, "alice")
	if err != nil || !found {
		t.Fatal(err)
	}
	bob, _, _ := h.System().LookupUser(ctx, "bob")
	text := out.String()
	for _, secret := range []string{pw1, pw2, pw3, "KEYMATERIAL", alice.PasswordVerifier, bob.PasswordVerifier} {
		if secret == "" {
			t.Fatal("a user has no verifier")
		}
		if strings.Contains(text, secret) {
			t.Errorf("secret %q shown:\n%s", secret, text)
		}
	}
	// Only verifiers are stored, and they check the right password.
	for _, tc := range []struct {
		u  UserInfo
		pw string
	}{{alice, pw2}, {bob, pw3}} {
		v, err := password.ParseSCRAMVerifier(tc.u.PasswordVerifier)
		if err != nil {
			t.Fatalf("%s's stored password is not a SCRAM verifier: %v", tc.u.Name, err)
		}
		if !v.Matches(tc.pw) || v.Matches(pw1) {
			t.Fatalf("%s's verifier checks the wrong password", tc.u.Name)
		}
	}
	// The same password never gives the same stored text.
	mustExec(t, s, "CREATE USER carol WITH PASSWORD '"+pw1+"'; CREATE USER dave WITH PASSWORD '"+pw1+"'")
	carol, _, _ := h.System().LookupUser(ctx, "carol")
	dave, _, _ := h.System().LookupUser(ctx, "dave")
	if carol.PasswordVerifier == dave.PasswordVerifier {
		t.Fatal("one password stored twice under one verifier")
	}
	// No key of the store holds a password in clear.
	span := kv.Span{Key: tenant.Prefix(tenant.SystemID), EndKey: tenant.PrefixEnd(tenant.SystemID)}
	err = h.kv.Export(ctx, span, kv.Timestamp{}, h.kv.Clock().Now(), func(v kv.Version) error {
		for _, secret := range []string{pw1, pw2} {
			if strings.Contains(string(v.Value), secret) {
				t.Errorf("password stored in clear under key %x", v.Key)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A password given as a verifier is stored as given (as PostgreSQL
	// does), so a dump of users can be restored.
	mustExec(t, s, "CREATE USER erin WITH PASSWORD '"+alice.PasswordVerifier+"'")
	erin, _, _ := h.System().LookupUser(ctx, "erin")
	if erin.PasswordVerifier != alice.PasswordVerifier {
		t.Fatal("a verifier given as the password was hashed again")
	}
}

// TestRedactedStatementText checks the text shown for statements with
// secrets (SHOW SESSIONS, logs) for every kind of such statement.
func TestRedactedStatementText(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{"CREATE USER u WITH PASSWORD 'sekret'", "CREATE USER u WITH PASSWORD '*****'"},
		{"ALTER USER u WITH LOGIN PASSWORD 'sekret'", "ALTER USER u WITH LOGIN PASSWORD '*****'"},
		{"CREATE EXTERNAL CONNECTION c AS 'postgresql://u:sekret@h'", "CREATE EXTERNAL CONNECTION 'c' AS '*****'"},
		{"CREATE VIRTUAL CLUSTER d FROM REPLICATION OF s ON 'postgresql://u:sekret@h:26257?sslkey=x'",
			"CREATE VIRTUAL CLUSTER d FROM REPLICATION OF s ON 'postgresql://u@h:26257?redacted'"},
		{"ALTER VIRTUAL CLUSTER d START REPLICATION OF s ON 'postgresql://u:sekret@h'",
			"ALTER VIRTUAL CLUSTER d START REPLICATION OF s ON 'postgresql://u@h?redacted'"},
		{"CREATE USER u", "CREATE USER u"},
		{"SELECT 'sekret'", "SELECT 'sekret'"},
	} {
		stmts, err := (&Session{}).Parse(tc.sql)
		if err != nil {
			t.Fatal(err)
		}
		got := activeQueryText(&Prepared{Statement: stmts[0]})
		if got != tc.want {
			t.Errorf("%s: shown as %q, want %q", tc.sql, got, tc.want)
		}
	}
}

// TestPrivilegeChangeInvalidatesCachedPlan checks that a prepared
// statement whose plan is cached stops working as soon as the privilege
// it was planned with is revoked, and works again when it is granted.
func TestPrivilegeChangeInvalidatesCachedPlan(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	h, _, stop := testHost(t, HostConfig{})
	defer stop()
	root := rootSession(t, h.System())
	defer root.Close()
	mustExec(t, root, "CREATE TABLE t (k INT PRIMARY KEY); INSERT INTO t VALUES (1); CREATE USER alice; GRANT SELECT ON t TO alice")
	alice, err := h.System().NewSession(ctx, SessionArgs{User: "alice", Database: "defaultdb"})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	sel := mustPrepare(t, alice, "SELECT k FROM t")
	for i := 0; i < 2; i++ {
		if rows, _, err := execPrepared(alice, sel); err != nil || len(rows) != 1 {
			t.Fatalf("select: %v %v", rows, err)
		}
	}
	mustExec(t, root, "REVOKE SELECT ON t FROM alice")
	if _, _, err := execPrepared(alice, sel); pgerror.GetPGCode(err) != pgcode.InsufficientPrivilege {
		t.Fatalf("after REVOKE: %v", err)
	}
	mustExec(t, root, "CREATE ROLE r; GRANT SELECT ON t TO r; GRANT r TO alice")
	if rows, _, err := execPrepared(alice, sel); err != nil || len(rows) != 1 {
		t.Fatalf("after GRANT through a role: %v %v", rows, err)
	}
	mustExec(t, root, "REVOKE r FROM alice")
	if _, _, err := execPrepared(alice, sel); pgerror.GetPGCode(err) != pgcode.InsufficientPrivilege {
		t.Fatalf("after revoking the role: %v", err)
	}
}

// TestFingerprintIgnoresTenantID copies one VC's versions, timestamps
// kept, into another VC's span (what replication does) and checks that
// the two fingerprint equal although their ids differ, and that a change
// on one side shows.
func TestFingerprintIgnoresTenantID(t *testing.T) {
	defer leaktest.AfterTest(t)()
	ctx := context.Background()
	h, e, stop := testHost(t, HostConfig{})
	defer stop()
	root := rootSession(t, h.System())
	defer root.Close()
	mustExec(t, root, "CREATE VIRTUAL CLUSTER a; ALTER VIRTUAL CLUSTER a START SERVICE SHARED; CREATE VIRTUAL CLUSTER [9]")
	srv, _ := h.Lookup("a")
	a := rootSession(t, srv)
	defer a.Close()
	mustExec(t, a, "CREATE TABLE t (k INT PRIMARY KEY, v STRING); INSERT INTO t VALUES (1, 'x'), (2, 'y'); UPDATE t SET v = 'z' WHERE k = 1")

	// Replace VC 9's span by a copy of VC 2's.
	if err := e.ClearRange(ctx, kv.Span{Key: tenant.Prefix(9), EndKey: tenant.PrefixEnd(9)}); err != nil {
		t.Fatal(err)
	}
	var copies []kv.Version
	src := tenant.Prefix(2)
	err := e.Export(ctx, kv.Span{Key: src, EndKey: tenant.PrefixEnd(2)}, kv.Timestamp{}, e.Clock().Now(), func(v kv.Version) error {
		v.Key = append(append([]byte(nil), tenant.Prefix(9)...), v.Key[len(src):]...)
		v.Value = append([]byte(nil), v.Value...)
		copies = append(copies, v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WriteVersions(ctx, copies); err != nil {
		t.Fatal(err)
	}
	fp := func(q string) string {
		stmts, _ := root.Parse(q)
		_, rows, err := runStatement(ctx, root, stmts[0], false)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: %v %v", q, rows, err)
		}
		return rows[0]
	}
	const latest = "SELECT fingerprint FROM [SHOW EXPERIMENTAL_FINGERPRINTS FROM VIRTUAL CLUSTER %s]"
	const revisions = "SELECT fingerprint FROM [SHOW EXPERIMENTAL_FINGERPRINTS FROM VIRTUAL CLUSTER %s WITH START TIMESTAMP = '1']"
	for _, q := range []string{latest, revisions} {
		if x, y := fp(fmt.Sprintf(q, "a")), fp(fmt.Sprintf(q, "[9]")); x != y {
			t.Fatalf("%s: %s in VC 2, %s in its copy", q, x, y)
		}
	}
	if fp(fmt.Sprintf(latest, "a")) == fp(fmt.Sprintf(revisions, "a")) {
		t.Fatal("with and without history hash alike")
	}
	mustExec(t, a, "DELETE FROM t WHERE k = 2")
	if fp(fmt.Sprintf(latest, "a")) == fp(fmt.Sprintf(latest, "[9]")) {
		t.Fatal("a change in one VC does not change its fingerprint")
	}
}
