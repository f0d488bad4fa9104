package sql

import (
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/vcdb/vcdb/replication"
)

// Statements can carry secrets: passwords (CREATE/ALTER USER ... PASSWORD)
// and connection URIs with passwords and keys (CREATE EXTERNAL CONNECTION,
// replication sources). Their raw text must not leave the session: the
// text shown by SHOW SESSIONS (and by anything that logs statements) is
// the parser's formatting of the tree, which prints passwords and
// external connection URIs as '*****', with replication URIs redacted
// here.

// activeQueryText is the text of prep shown while it runs.
func activeQueryText(prep *Prepared) string {
	if !containsSecret(prep.AST) {
		return prep.SQL
	}
	return redactedStatement(prep.AST)
}

// containsSecret reports whether stmt's text may hold a secret.
func containsSecret(stmt tree.Statement) bool {
	switch t := stmt.(type) {
	case *tree.CreateRole:
		return hasPasswordOption(t.KVOptions)
	case *tree.AlterRole:
		return hasPasswordOption(t.KVOptions)
	case *tree.CreateExternalConnection, *tree.CreateTenantFromReplication, *tree.AlterTenantReplication:
		return true
	}
	return false
}

func hasPasswordOption(opts tree.KVOptions) bool {
	for _, o := range opts {
		if strings.HasSuffix(strings.ToLower(string(o.Key)), "password") {
			return true
		}
	}
	return false
}

// redactedStatement formats stmt without its secrets.
func redactedStatement(stmt tree.Statement) string {
	switch t := stmt.(type) {
	case *tree.CreateTenantFromReplication:
		c := *t
		c.ReplicationSourceConnUri = redactURIExpr(t.ReplicationSourceConnUri)
		return tree.AsString(&c)
	case *tree.AlterTenantReplication:
		c := *t
		if t.ReplicationSourceConnUri != nil {
			c.ReplicationSourceConnUri = redactURIExpr(t.ReplicationSourceConnUri)
		}
		return tree.AsString(&c)
	}
	return tree.AsString(stmt)
}

// redactURIExpr replaces a literal URI by its redacted form (placeholders
// carry no text).
func redactURIExpr(e tree.Expr) tree.Expr {
	if s, ok := e.(*tree.StrVal); ok {
		return tree.NewStrVal(replication.RedactURI(s.RawString()))
	}
	return e
}
