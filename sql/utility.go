package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
)

// Utility statements are schema changes and SHOW statements. They run
// straight from their AST (no cached plan): a schema change in the
// session's transaction or in an implicit one (retried on conflict), a SHOW
// in a read-only view of the catalog.

func isShow(stmt tree.Statement) bool {
	switch stmt.(type) {
	case *tree.ShowDatabases, *tree.ShowTables, *tree.ShowColumns, *tree.ShowCreate,
		*tree.ShowIndexes, *tree.ShowSchemas, *tree.ShowUsers, *tree.ShowRoles, *tree.ShowClusterSetting,
		*tree.ShowSessions, *tree.ShowTenant, *tree.ShowFingerprints, *tree.ShowGrants, *tree.ShowRoleGrants,
		*tree.ShowExternalConnections, *tree.ShowClusterSettingList, *tree.ShowTenantClusterSetting,
		*tree.ShowJobs:
		return true
	}
	return false
}

func strCol(name string) resultColumn  { return resultColumn{name: name, typ: types.String} }
func boolCol(name string) resultColumn { return resultColumn{name: name, typ: types.Bool} }
func intCol(name string) resultColumn  { return resultColumn{name: name, typ: types.Int} }

// utilityColumns describes the rows a utility statement returns.
func utilityColumns(stmt tree.Statement) []resultColumn {
	switch t := stmt.(type) {
	case *tree.ShowVar:
		return []resultColumn{strCol(showVarColumnName(t.Name))}
	case *tree.ShowTransactionStatus:
		return []resultColumn{strCol("TRANSACTION STATUS")}
	case *tree.ShowDatabases:
		return []resultColumn{strCol("database_name"), strCol("owner"), strCol("primary_region"),
			strCol("secondary_region"), {name: "regions", typ: types.StringArray}, strCol("survival_goal")}
	case *tree.ShowTables:
		return []resultColumn{strCol("schema_name"), strCol("table_name"), strCol("type"), strCol("owner"),
			intCol("estimated_row_count"), strCol("locality")}
	case *tree.ShowColumns:
		return []resultColumn{strCol("column_name"), strCol("data_type"), boolCol("is_nullable"),
			strCol("column_default"), strCol("generation_expression"), {name: "indices", typ: types.StringArray}, boolCol("is_hidden")}
	case *tree.ShowCreate:
		return []resultColumn{strCol("table_name"), strCol("create_statement")}
	case *tree.ShowIndexes:
		return []resultColumn{strCol("table_name"), strCol("index_name"), boolCol("non_unique"), intCol("seq_in_index"),
			strCol("column_name"), strCol("definition"), strCol("direction"), boolCol("storing"), boolCol("implicit"), boolCol("visible")}
	case *tree.ShowSchemas:
		return []resultColumn{strCol("schema_name"), strCol("owner")}
	case *tree.ShowUsers, *tree.ShowRoles:
		return []resultColumn{strCol("username"), strCol("options"), {name: "member_of", typ: types.StringArray}}
	case *tree.ShowClusterSetting:
		return settingColumns(t.Name)
	case *tree.ShowTenantClusterSetting:
		return settingColumns(t.Name)
	case *tree.ShowClusterSettingList:
		return []resultColumn{strCol("variable"), strCol("value"), strCol("setting_type"), strCol("description")}
	case *tree.ShowTenant:
		return showTenantColumns(t)
	case *tree.ShowFingerprints:
		return fingerprintColumns
	case *tree.ShowJobs:
		return showJobsColumns
	case *tree.AlterTenantReplication:
		if t.Cutover != nil {
			return failoverTimeColumns
		}
	case *tree.ShowGrants:
		return showGrantsColumns(t)
	case *tree.ShowRoleGrants:
		return showRoleGrantsColumns
	case *tree.ShowExternalConnections:
		return showExternalConnectionsColumns
	case *tree.ShowSessions:
		return []resultColumn{intCol("node_id"), strCol("session_id"), strCol("status"), strCol("user_name"),
			strCol("client_address"), strCol("application_name"), strCol("active_queries"),
			{name: "session_start", typ: types.TimestampTZ}}
	}
	return nil
}

func showVarColumnName(name string) string {
	if v, ok := sessionVars[strings.ToLower(name)]; ok {
		return strings.ToLower(v.display)
	}
	return strings.ToLower(name)
}

// execShowVar runs SHOW name and SHOW ALL.
func (s *Session) execShowVar(sv *tree.ShowVar) (Result, error) {
	if strings.EqualFold(sv.Name, "all") {
		var rows []tree.Datums
		for _, kv := range s.allVars() {
			rows = append(rows, tree.Datums{tree.NewDString(kv[0]), tree.NewDString(kv[1])})
		}
		return &bufferedResult{
			cols: []Column{{Name: "variable", Type: types.String}, {Name: "value", Type: types.String}},
			rows: rows, tag: fmt.Sprintf("SHOW %d", len(rows)),
		}, nil
	}
	v, err := s.getVar(sv.Name)
	if err != nil {
		return nil, err
	}
	return &bufferedResult{
		cols: columnsOf(utilityColumns(sv)),
		rows: []tree.Datums{{tree.NewDString(v)}},
		tag:  "SHOW 1",
	}, nil
}

// execUtilityStmt runs a schema change or SHOW statement.
func (s *Session) execUtilityStmt(ctx context.Context, stmt tree.Statement, args tree.Datums) (Result, error) {
	cols := columnsOf(utilityColumns(stmt))
	stmtCtx, cancel := s.stmtContext(ctx)
	defer cancel()
	run := func(txn *kv.Txn, descs *catalog.Collection) ([]tree.Datums, string, error) {
		snap, err := descs.Snapshot(stmtCtx)
		if err != nil {
			return nil, "", err
		}
		p, err := newPlanner(s, snap, len(args), nil)
		if err != nil {
			return nil, "", err
		}
		rp := &runParams{s: s, txn: txn, descs: descs, ec: s.prepareEvalContext(txn, args)}
		rp.ec.Catalog = rp
		rp.ec.Subquery = func(ctx context.Context, sq *tree.Subquery) (tree.Datum, error) {
			// Schema changes plan their subqueries (CREATE TABLE AS) as
			// they go.
			rp.plans = p.subqueries
			for len(rp.subqueries) < len(rp.plans) {
				rp.subqueries = append(rp.subqueries, nil)
			}
			return rp.runSubquery(ctx, sq)
		}
		d := &ddl{s: s, descs: descs, snap: snap, p: p, rp: rp}
		return d.exec(stmtCtx, stmt)
	}
	if isShow(stmt) {
		var rows []tree.Datums
		var tag string
		var err error
		if s.txn.mode == txnOpen {
			rows, tag, err = run(s.txn.kv, s.txn.descs)
		} else {
			txn := s.beginKV(true, kv.Timestamp{})
			rows, tag, err = run(txn, s.srv.newCollection(txn))
			txn.Rollback()
		}
		if err != nil {
			return nil, err
		}
		return &bufferedResult{cols: cols, rows: rows, tag: tag}, nil
	}
	if err := s.checkWritable(stmt); err != nil {
		return nil, err
	}
	if s.txn.mode == txnOpen {
		rows, tag, err := run(s.txn.kv, s.txn.descs)
		if err != nil {
			return nil, err
		}
		return &bufferedResult{cols: cols, rows: rows, tag: tag}, nil
	}
	var rows []tree.Datums
	var tag string
	err := s.retryImplicit(stmtCtx, func(txn *kv.Txn, descs *catalog.Collection) error {
		var err error
		rows, tag, err = run(txn, descs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &bufferedResult{cols: cols, rows: rows, tag: tag}, nil
}

// exec dispatches a utility statement.
func (d *ddl) exec(ctx context.Context, stmt tree.Statement) ([]tree.Datums, string, error) {
	var err error
	switch t := stmt.(type) {
	case *tree.CreateDatabase:
		err = d.execCreateDatabase(ctx, t)
	case *tree.DropDatabase:
		err = d.execDropDatabase(ctx, t)
	case *tree.CreateTable:
		err = d.execCreateTable(ctx, t)
	case *tree.DropTable:
		err = d.execDropTable(ctx, t)
	case *tree.Truncate:
		err = d.execTruncate(ctx, t)
	case *tree.CreateIndex:
		err = d.execCreateIndex(ctx, t)
	case *tree.DropIndex:
		err = d.execDropIndex(ctx, t)
	case *tree.AlterTable:
		err = d.execAlterTable(ctx, t)
	case *tree.RenameTable:
		err = d.execRenameTable(ctx, t)
	case *tree.RenameIndex:
		err = d.execRenameIndex(ctx, t)
	case *tree.RenameDatabase:
		err = d.execRenameDatabase(ctx, t)
	case *tree.RenameColumn:
		err = d.execRenameColumn(ctx, t)
	case *tree.CreateRole:
		err = d.execCreateRole(ctx, t)
	case *tree.AlterRole:
		err = d.execAlterRole(ctx, t)
	case *tree.AlterRoleSet:
		err = d.execAlterRoleSet(ctx, t)
	case *tree.DropRole:
		err = d.execDropRole(ctx, t)
	case *tree.GrantRole:
		err = d.execGrantRole(ctx, t)
	case *tree.RevokeRole:
		err = d.execRevokeRole(ctx, t)
	case *tree.Grant:
		err = d.execGrant(ctx, t.Privileges, t.Targets, t.Grantees, false, t.WithGrantOption)
	case *tree.Revoke:
		err = d.execGrant(ctx, t.Privileges, t.Targets, t.Grantees, true, t.GrantOptionFor)
	case *tree.CreateExternalConnection:
		err = d.execCreateExternalConnection(ctx, t)
	case *tree.DropExternalConnection:
		err = d.execDropExternalConnection(ctx, t)
	case *tree.CreateSchema:
		err = pgerror.Newf(pgcode.FeatureNotSupported, "CREATE SCHEMA is not supported: every database has the single schema public")
	default:
		if isShow(stmt) {
			rows, err := d.execShow(ctx, stmt)
			return rows, fmt.Sprintf("SHOW %d", len(rows)), err
		}
		return nil, "", pgerror.Newf(pgcode.FeatureNotSupported, "unsupported statement: %s", stmt.StatementTag())
	}
	if err != nil {
		return nil, "", err
	}
	return nil, stmt.StatementTag(), nil
}
