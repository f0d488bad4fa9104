package sql

import (
	"context"
	"sort"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/vcdb/vcdb/sql/catalog"
)

// GRANT/REVOKE of privileges on databases and tables and of system
// privileges, and SHOW GRANTS. Grants are stored in the descriptors (and
// system privileges in the user records) as privilege.Kind bit sets.
// vcdb has no WITH GRANT OPTION: the owner of an object and admins may
// grant on it.

// viewSystemData is the contract's (and CockroachDB v25.2's) name of the
// system privilege that lets a user read system data. Parser v0.25.2 knows
// that privilege only by its older name VIEWSYSTEMTABLE and refuses
// VIEWSYSTEMDATA as "not a valid privilege" while parsing GRANT and REVOKE.
const viewSystemData = "VIEWSYSTEMDATA"

// init teaches the parser the name VIEWSYSTEMDATA. The grammar resolves
// privilege names through privilege.ByDisplayName, a map the privilege
// package fills in its own init and only reads afterwards; adding the one
// alias here (before any statement is parsed, so without a data race)
// makes GRANT|REVOKE SYSTEM VIEWSYSTEMDATA parse to the same Kind as
// VIEWSYSTEMTABLE, which stays accepted as an alias. This was preferred
// over rewriting the statement text before parsing, which would need its
// own lexer to avoid touching identifiers, strings and comments.
// Everything vcdb shows names the privilege VIEWSYSTEMDATA
// (privilegeName).
func init() {
	privilege.ByDisplayName[privilege.KindDisplayName(viewSystemData)] = privilege.VIEWSYSTEMTABLE
}

// privilegeName is the name shown for a privilege: its display name, but
// VIEWSYSTEMDATA for the kind parser v0.25.2 calls VIEWSYSTEMTABLE.
func privilegeName(k privilege.Kind) string {
	if k == privilege.VIEWSYSTEMTABLE {
		return viewSystemData
	}
	return string(k.DisplayName())
}

// validatePrivileges is privilege.ValidatePrivileges with the privilege
// named by privilegeName in its error.
func validatePrivileges(privs privilege.List, ot privilege.ObjectType) error {
	valid, err := privilege.GetValidPrivilegesForObject(ot)
	if err != nil {
		return err
	}
	for _, k := range privs {
		if valid.ToBitField()&k.Mask() == 0 {
			return pgerror.Newf(pgcode.InvalidGrantOperation,
				"invalid privilege type %s for %s", privilegeName(k), ot)
		}
	}
	return nil
}

// privilegeBits returns the bit set of a privilege list; ALL stands alone.
func privilegeBits(l privilege.List) uint64 {
	if l.Contains(privilege.ALL) {
		return privilege.ALL.Mask()
	}
	return l.ToBitField()
}

// validPrivilegeBits returns the privileges of an object type, ALL
// excluded (what ALL expands to when part of it is revoked).
func validPrivilegeBits(ot privilege.ObjectType) uint64 {
	l, err := privilege.GetValidPrivilegesForObject(ot)
	if err != nil {
		return 0
	}
	return l.ToBitField() &^ privilege.ALL.Mask()
}

// applyGrant returns grants with bits granted to or revoked from grantee.
func applyGrant(grants map[string]uint64, grantee string, bits uint64, revoke bool, ot privilege.ObjectType) map[string]uint64 {
	out := catalog.ClonePrivileges(grants)
	if out == nil {
		out = map[string]uint64{}
	}
	cur := out[grantee]
	switch {
	case !revoke && bits&privilege.ALL.Mask() != 0:
		cur = privilege.ALL.Mask()
	case !revoke:
		if cur&privilege.ALL.Mask() == 0 {
			cur |= bits
		}
	case bits&privilege.ALL.Mask() != 0:
		cur = 0
	default:
		if cur&privilege.ALL.Mask() != 0 {
			// Revoking part of ALL leaves the rest, as in CockroachDB.
			cur = validPrivilegeBits(ot)
		}
		cur &^= bits
	}
	if cur == 0 {
		delete(out, grantee)
	} else {
		out[grantee] = cur
	}
	return out
}

// grantees resolves the grantees of GRANT/REVOKE; each must exist (public
// is allowed on objects).
func (d *ddl) grantees(specs tree.RoleSpecList, allowPublic bool) ([]string, error) {
	var out []string
	for _, spec := range specs {
		name := d.s.roleName(spec)
		if name == catalog.PublicRole && allowPublic {
			out = append(out, name)
			continue
		}
		if d.snap.User(name) == nil {
			return nil, errRoleNotFound(name)
		}
		out = append(out, name)
	}
	return out, nil
}

// execGrant runs GRANT (revoke false) and REVOKE of privileges.
func (d *ddl) execGrant(ctx context.Context, privs privilege.List, targets tree.GrantTargetList,
	granteeSpecs tree.RoleSpecList, revoke, grantOption bool) error {
	if grantOption {
		return pgerror.Newf(pgcode.FeatureNotSupported, "WITH GRANT OPTION is not supported: owners and admins grant")
	}
	pr := d.s.principal(d.snap)
	bits := privilegeBits(privs)
	switch {
	case targets.System:
		if err := validatePrivileges(privs, privilege.Global); err != nil {
			return err
		}
		if err := requireAdmin(pr, "grant and revoke system privileges"); err != nil {
			return err
		}
		users, err := d.grantees(granteeSpecs, false)
		if err != nil {
			return err
		}
		for _, name := range users {
			u := *d.snap.User(name)
			cur := map[string]uint64{name: u.SystemPrivileges}
			u.SystemPrivileges = applyGrant(cur, name, bits, revoke, privilege.Global)[name]
			if err := d.descs.PutUser(ctx, &u); err != nil {
				return err
			}
		}
		return nil
	case targets.Databases != nil:
		if err := validatePrivileges(privs, privilege.Database); err != nil {
			return err
		}
		users, err := d.grantees(granteeSpecs, true)
		if err != nil {
			return err
		}
		for _, n := range targets.Databases {
			snap, err := d.descs.Snapshot(ctx)
			if err != nil {
				return err
			}
			db := snap.DatabaseByName(string(n))
			if db == nil {
				return pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", string(n))
			}
			if err := requireOwner(pr, db.Owner, "database", db.Name); err != nil {
				return err
			}
			c := db.Clone()
			for _, u := range users {
				c.Privileges = applyGrant(c.Privileges, u, bits, revoke, privilege.Database)
			}
			if err := d.descs.WriteDescriptor(ctx, &catalog.Descriptor{Database: c}); err != nil {
				return err
			}
		}
		return nil
	case targets.Schemas != nil && !targets.AllTablesInSchema, targets.Types != nil, targets.Functions != nil,
		targets.Procedures != nil, targets.ExternalConnections != nil, targets.AllSequencesInSchema,
		targets.AllFunctionsInSchema, targets.AllProceduresInSchema:
		return pgerror.Newf(pgcode.FeatureNotSupported, "privileges on this kind of object are not supported")
	}
	if err := validatePrivileges(privs, privilege.Table); err != nil {
		return err
	}
	users, err := d.grantees(granteeSpecs, true)
	if err != nil {
		return err
	}
	tables, err := d.grantTables(targets)
	if err != nil {
		return err
	}
	for _, id := range tables {
		snap, err := d.descs.Snapshot(ctx)
		if err != nil {
			return err
		}
		t := snap.TableByID(id)
		if err := requireOwner(pr, t.Owner, "relation", t.Name); err != nil {
			return err
		}
		c := t.Clone()
		for _, u := range users {
			c.Privileges = applyGrant(c.Privileges, u, bits, revoke, privilege.Table)
		}
		if err := d.descs.WriteDescriptor(ctx, &catalog.Descriptor{Table: c}); err != nil {
			return err
		}
	}
	return nil
}

// grantTables resolves the tables of GRANT ... ON [TABLE] patterns or ON
// ALL TABLES IN SCHEMA.
func (d *ddl) grantTables(targets tree.GrantTargetList) ([]catalog.ID, error) {
	var ids []catalog.ID
	if targets.AllTablesInSchema {
		for _, prefix := range targets.Schemas {
			got, err := d.tablesInPrefix(prefix)
			if err != nil {
				return nil, err
			}
			ids = append(ids, got...)
		}
		return ids, nil
	}
	for _, pat := range targets.Tables.TablePatterns {
		np, err := pat.NormalizeTablePattern()
		if err != nil {
			return nil, err
		}
		switch t := np.(type) {
		case *tree.TableName:
			tbl, _, err := d.p.resolveStoredTable(t)
			if err != nil {
				return nil, err
			}
			ids = append(ids, tbl.ID)
		case *tree.AllTablesSelector:
			got, err := d.tablesInPrefix(t.ObjectNamePrefix)
			if err != nil {
				return nil, err
			}
			ids = append(ids, got...)
		default:
			return nil, unimplemented("this table pattern")
		}
	}
	return ids, nil
}

// tablesInPrefix lists the tables of a schema prefix: the current
// database's public schema, a schema of the current database or a
// database's public schema (s.*), or db.s.*.
func (d *ddl) tablesInPrefix(prefix tree.ObjectNamePrefix) ([]catalog.ID, error) {
	db, err := d.p.currentDatabase()
	schema := "public"
	switch {
	case prefix.ExplicitCatalog:
		if db = d.snap.DatabaseByName(string(prefix.CatalogName)); db == nil {
			return nil, pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", string(prefix.CatalogName))
		}
		err = nil
		schema = string(prefix.SchemaName)
	case prefix.ExplicitSchema:
		name := string(prefix.SchemaName)
		if db != nil && d.snap.SchemaByName(db.ID, name) != nil {
			schema = name
		} else if other := d.snap.DatabaseByName(name); other != nil {
			db, err = other, nil
		} else {
			return nil, pgerror.Newf(pgcode.InvalidSchemaName, "schema %q does not exist", name)
		}
	}
	if err != nil {
		return nil, err
	}
	sc := d.snap.SchemaByName(db.ID, schema)
	if sc == nil {
		return nil, pgerror.Newf(pgcode.InvalidSchemaName, "schema %q does not exist", schema)
	}
	var ids []catalog.ID
	for _, t := range d.snap.Tables(db.ID, sc.ID) {
		ids = append(ids, t.ID)
	}
	return ids, nil
}

// privilegeNames lists the privileges of a bit set, sorted (ALL alone).
func privilegeNames(bits uint64) []string {
	if bits&privilege.ALL.Mask() != 0 {
		return []string{"ALL"}
	}
	var out []string
	for k := privilege.Kind(1); k <= privilege.REPLICATIONSOURCE; k++ {
		if k == 4 {
			continue // a retired kind
		}
		if bits&k.Mask() != 0 {
			out = append(out, privilegeName(k))
		}
	}
	sort.Strings(out)
	return out
}

// showGrantsColumns are the columns of a SHOW GRANTS form.
func showGrantsColumns(t *tree.ShowGrants) []resultColumn {
	tail := []resultColumn{strCol("grantee"), strCol("privilege_type"), boolCol("is_grantable")}
	switch {
	case t.Targets == nil:
		return append([]resultColumn{strCol("database_name"), strCol("schema_name"), strCol("object_name"),
			strCol("object_type")}, tail...)
	case t.Targets.System:
		return tail
	case t.Targets.Databases != nil:
		return append([]resultColumn{strCol("database_name")}, tail...)
	}
	return append([]resultColumn{strCol("database_name"), strCol("schema_name"), strCol("table_name")}, tail...)
}

var showRoleGrantsColumns = []resultColumn{strCol("role_name"), strCol("member"), boolCol("is_admin")}

// grantRows expands grants into (grantee, privilege, is_grantable) rows,
// keeping the grantees wanted (nil: all). The owner, admin and root may
// grant what they hold.
func grantRows(grants map[string]uint64, owner string, wanted map[string]bool) [][3]tree.Datum {
	names := make([]string, 0, len(grants))
	for g := range grants {
		if wanted == nil || wanted[g] {
			names = append(names, g)
		}
	}
	sort.Strings(names)
	var out [][3]tree.Datum
	for _, g := range names {
		grantable := g == owner || g == catalog.AdminRole || g == catalog.RootUser
		for _, p := range privilegeNames(grants[g]) {
			out = append(out, [3]tree.Datum{dstr(g), dstr(p), dbool(grantable)})
		}
	}
	return out
}

// execShowGrants computes SHOW [SYSTEM] GRANTS [ON ...] [FOR ...].
func (d *ddl) execShowGrants(ctx context.Context, t *tree.ShowGrants) ([]tree.Datums, error) {
	var wanted map[string]bool
	if t.Grantees != nil {
		wanted = map[string]bool{catalog.PublicRole: true}
		for _, spec := range t.Grantees {
			name := d.s.roleName(spec)
			if d.snap.User(name) == nil && name != catalog.PublicRole {
				return nil, errRoleNotFound(name)
			}
			wanted[name] = true
		}
	}
	var rows []tree.Datums
	switch {
	case t.Targets != nil && t.Targets.System:
		if wanted != nil {
			delete(wanted, catalog.PublicRole)
		}
		for _, u := range d.snap.Users() {
			if u.SystemPrivileges == 0 || (wanted != nil && !wanted[u.Name]) {
				continue
			}
			for _, p := range privilegeNames(u.SystemPrivileges) {
				rows = append(rows, tree.Datums{dstr(u.Name), dstr(p), dbool(false)})
			}
		}
		return rows, nil
	case t.Targets != nil && t.Targets.Databases != nil:
		for _, n := range t.Targets.Databases {
			db := d.snap.DatabaseByName(string(n))
			if db == nil {
				return nil, pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", string(n))
			}
			for _, g := range grantRows(db.Privileges, db.Owner, wanted) {
				rows = append(rows, tree.Datums{dstr(db.Name), g[0], g[1], g[2]})
			}
		}
		return rows, nil
	case t.Targets != nil:
		if t.Targets.Tables.TablePatterns == nil && !t.Targets.AllTablesInSchema {
			return nil, pgerror.Newf(pgcode.FeatureNotSupported, "SHOW GRANTS on this kind of object is not supported")
		}
		ids, err := d.grantTables(*t.Targets)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			tbl := d.snap.TableByID(id)
			db, sc := d.snap.DatabaseByID(tbl.ParentID), d.snap.SchemaByID(tbl.SchemaID)
			for _, g := range grantRows(tbl.Privileges, tbl.Owner, wanted) {
				rows = append(rows, tree.Datums{dstr(db.Name), dstr(sc.Name), dstr(tbl.Name), g[0], g[1], g[2]})
			}
		}
		return rows, nil
	}
	// Every grant of the current database: the database's, then its
	// tables'.
	db, err := d.p.currentDatabase()
	if err != nil {
		return nil, err
	}
	for _, g := range grantRows(db.Privileges, db.Owner, wanted) {
		rows = append(rows, tree.Datums{dstr(db.Name), tree.DNull, tree.DNull, dstr("database"), g[0], g[1], g[2]})
	}
	for _, tbl := range d.snap.Tables(db.ID, 0) {
		sc := d.snap.SchemaByID(tbl.SchemaID)
		for _, g := range grantRows(tbl.Privileges, tbl.Owner, wanted) {
			rows = append(rows, tree.Datums{dstr(db.Name), dstr(sc.Name), dstr(tbl.Name), dstr("table"), g[0], g[1], g[2]})
		}
	}
	return rows, nil
}

// execShowRoleGrants computes SHOW GRANTS ON ROLE [roles] [FOR members].
func (d *ddl) execShowRoleGrants(t *tree.ShowRoleGrants) ([]tree.Datums, error) {
	filter := func(specs tree.RoleSpecList) (map[string]bool, error) {
		if specs == nil {
			return nil, nil
		}
		m := map[string]bool{}
		for _, spec := range specs {
			name := d.s.roleName(spec)
			if d.snap.User(name) == nil {
				return nil, errRoleNotFound(name)
			}
			m[name] = true
		}
		return m, nil
	}
	roles, err := filter(t.Roles)
	if err != nil {
		return nil, err
	}
	members, err := filter(t.Grantees)
	if err != nil {
		return nil, err
	}
	var rows []tree.Datums
	for _, m := range d.snap.RoleMembers() {
		if (roles == nil || roles[m.Role]) && (members == nil || members[m.Member]) {
			rows = append(rows, tree.Datums{dstr(m.Role), dstr(m.Member), dbool(m.IsAdmin)})
		}
	}
	return rows, nil
}
