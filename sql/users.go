package sql

import (
	"context"
	"regexp"
	"sort"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/sql/password"
)

// Users and roles: CREATE/ALTER/DROP USER|ROLE, GRANT/REVOKE role. They
// change the catalog through the Collection, so they are transactional
// and make a new catalog version (see authz.go). Passwords are turned into
// SCRAM-SHA-256 verifiers at once; neither the password nor its verifier
// is ever printed, and the statement's own text is shown redacted
// (redact.go).

// usernameRE is CockroachDB's rule for user and role names.
var usernameRE = regexp.MustCompile(`^[\p{Ll}0-9_][\p{Ll}0-9_.-]*$`)

// maxUsernameLength is CockroachDB's limit on user and role names.
const maxUsernameLength = 63

// roleName normalizes a role specification to a user name.
func (s *Session) roleName(spec tree.RoleSpec) string {
	switch spec.RoleSpecType {
	case tree.CurrentUser, tree.SessionUser:
		return s.data.user
	}
	return strings.ToLower(spec.Name)
}

// checkNewRoleName validates the name of a new user or role.
func checkNewRoleName(name string) error {
	switch name {
	case catalog.PublicRole, "none", "current_user", "session_user":
		return pgerror.Newf(pgcode.ReservedName, "role name %q is reserved", name)
	}
	if strings.HasPrefix(name, "pg_") || strings.HasPrefix(name, "crdb_internal") {
		return pgerror.Newf(pgcode.ReservedName, "role name %q is reserved", name)
	}
	if len(name) == 0 || len(name) > maxUsernameLength || !usernameRE.MatchString(name) {
		return pgerror.Newf(pgcode.InvalidName,
			"username %q invalid; usernames are case insensitive, must start with a letter, digit or underscore, "+
				"may contain letters, digits, dashes, periods, or underscores, and must not exceed %d characters",
			name, maxUsernameLength)
	}
	return nil
}

// errRoleNotFound is CockroachDB's error for an unknown user or role.
func errRoleNotFound(name string) error {
	return pgerror.Newf(pgcode.UndefinedObject, "role/user %q does not exist", name)
}

// requireCreateRole checks the privilege to create or change principals.
func requireCreateRole(pr *catalog.Principal) error {
	if pr.Admin || pr.CreateRole {
		return nil
	}
	return pgerror.Newf(pgcode.InsufficientPrivilege, "user %s does not have CREATEROLE privilege", pr.Name)
}

// roleOptions are the parsed WITH options of CREATE/ALTER USER|ROLE; nil
// fields were not given.
type roleOptions struct {
	login, createDB, createRole *bool
	// verifier is set when PASSWORD was given: the new verifier, or ""
	// for PASSWORD NULL.
	verifier *string
}

// parseRoleOptions evaluates the options. A password is hashed here and
// never kept in clear.
func (s *Session) parseRoleOptions(ctx context.Context, opts tree.KVOptions, args tree.Datums) (roleOptions, error) {
	var ro roleOptions
	seen := map[string]bool{}
	yes, no := true, false
	for _, o := range opts {
		key := strings.ToLower(string(o.Key))
		if seen[key] {
			return ro, pgerror.Newf(pgcode.Syntax, "redundant role options")
		}
		seen[key] = true
		switch key {
		case "login":
			ro.login = &yes
		case "nologin":
			ro.login = &no
		case "createdb":
			ro.createDB = &yes
		case "nocreatedb":
			ro.createDB = &no
		case "createrole":
			ro.createRole = &yes
		case "nocreaterole":
			ro.createRole = &no
		case "password":
			v, err := s.passwordVerifier(ctx, o.Value, args)
			if err != nil {
				return ro, err
			}
			ro.verifier = &v
		default:
			return ro, pgerror.Newf(pgcode.FeatureNotSupported, "role option %s is not supported", strings.ToUpper(key))
		}
	}
	return ro, nil
}

// passwordVerifier turns the value of a PASSWORD option into the verifier
// to store ("" for NULL). A value that already is a SCRAM-SHA-256 verifier
// is stored as given, as PostgreSQL and CockroachDB do. Errors never quote
// the value.
func (s *Session) passwordVerifier(ctx context.Context, e tree.Expr, args tree.Datums) (string, error) {
	var pw string
	switch t := e.(type) {
	case nil:
		return "", pgerror.Newf(pgcode.Syntax, "PASSWORD needs a value")
	case *tree.StrVal:
		pw = t.RawString()
	case *tree.Placeholder:
		idx := int(t.Idx)
		if idx >= len(args) {
			return "", pgerror.Newf(pgcode.UndefinedParameter, "no value provided for placeholder: %s", t)
		}
		if args[idx] == tree.DNull {
			return "", nil
		}
		ds, ok := tree.AsDString(args[idx])
		if !ok {
			return "", pgerror.Newf(pgcode.DatatypeMismatch, "a password must be a string")
		}
		pw = string(ds)
	default:
		if e == tree.DNull {
			return "", nil
		}
		return "", pgerror.Newf(pgcode.DatatypeMismatch, "a password must be a string constant or a placeholder")
	}
	if pw == "" {
		return "", pgerror.Newf(pgcode.InvalidParameterValue, "empty passwords are not permitted")
	}
	if password.IsSCRAMVerifier(pw) {
		return pw, nil
	}
	return password.NewSCRAMVerifier(pw)
}

func (ro roleOptions) apply(u *catalog.User) {
	if ro.login != nil {
		u.CanLogin = *ro.login
	}
	if ro.createDB != nil {
		u.CreateDB = *ro.createDB
	}
	if ro.createRole != nil {
		u.CreateRole = *ro.createRole
	}
	if ro.verifier != nil {
		u.PasswordVerifier = *ro.verifier
	}
}

// execCreateRole runs CREATE USER|ROLE.
func (d *ddl) execCreateRole(ctx context.Context, t *tree.CreateRole) error {
	if err := requireCreateRole(d.s.principal(d.snap)); err != nil {
		return err
	}
	name := d.s.roleName(t.Name)
	if err := checkNewRoleName(name); err != nil {
		return err
	}
	if d.snap.User(name) != nil {
		if t.IfNotExists {
			return nil
		}
		return pgerror.Newf(pgcode.DuplicateObject, "a role/user named %s already exists", name)
	}
	ro, err := d.s.parseRoleOptions(ctx, t.KVOptions, d.rp.ec.Placeholders)
	if err != nil {
		return err
	}
	// CREATE USER implies LOGIN, CREATE ROLE NOLOGIN, as in PostgreSQL.
	u := &catalog.User{Name: name, IsRole: t.IsRole, CanLogin: !t.IsRole}
	ro.apply(u)
	return d.descs.PutUser(ctx, u)
}

// execAlterRole runs ALTER USER|ROLE ... WITH options.
func (d *ddl) execAlterRole(ctx context.Context, t *tree.AlterRole) error {
	pr := d.s.principal(d.snap)
	name := d.s.roleName(t.Name)
	cur := d.snap.User(name)
	if cur == nil {
		if t.IfExists {
			return nil
		}
		return errRoleNotFound(name)
	}
	ro, err := d.s.parseRoleOptions(ctx, t.KVOptions, d.rp.ec.Placeholders)
	if err != nil {
		return err
	}
	onlyOwnPassword := name == pr.Name && ro.login == nil && ro.createDB == nil && ro.createRole == nil
	if !onlyOwnPassword {
		if err := requireCreateRole(pr); err != nil {
			return err
		}
		if d.snap.Principal(name).Admin && !pr.Admin {
			return pgerror.Newf(pgcode.InsufficientPrivilege,
				"only users with the admin role are allowed to alter another admin")
		}
	}
	u := *cur
	ro.apply(&u)
	return d.descs.PutUser(ctx, &u)
}

// execDropRole runs DROP USER|ROLE.
func (d *ddl) execDropRole(ctx context.Context, t *tree.DropRole) error {
	pr := d.s.principal(d.snap)
	if err := requireCreateRole(pr); err != nil {
		return err
	}
	for _, spec := range t.Names {
		name := d.s.roleName(spec)
		switch name {
		case catalog.RootUser, catalog.AdminRole, catalog.PublicRole:
			return pgerror.Newf(pgcode.InsufficientPrivilege, "cannot drop special role %s", name)
		}
		if name == d.s.data.user {
			return pgerror.Newf(pgcode.ObjectInUse, "cannot drop the current session user %s", name)
		}
		snap, err := d.descs.Snapshot(ctx)
		if err != nil {
			return err
		}
		if snap.User(name) == nil {
			if t.IfExists {
				continue
			}
			return errRoleNotFound(name)
		}
		if snap.Principal(name).Admin && !pr.Admin {
			return pgerror.Newf(pgcode.InsufficientPrivilege,
				"only users with the admin role are allowed to drop another admin")
		}
		if deps := dependentObjects(snap, name); len(deps) > 0 {
			return errors.WithDetail(pgerror.Newf(pgcode.DependentObjectsStillExist,
				"role %s cannot be dropped because some objects depend on it", name),
				strings.Join(deps, "\n"))
		}
		if err := d.descs.DeleteUser(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// dependentObjects lists the objects user owns or holds privileges on,
// which keep it from being dropped (PostgreSQL's rule).
func dependentObjects(snap *catalog.Snapshot, user string) []string {
	var out []string
	for _, db := range snap.Databases() {
		if db.Owner == user {
			out = append(out, "owner of database "+db.Name)
		}
		if db.Privileges[user] != 0 {
			out = append(out, "privileges for database "+db.Name)
		}
	}
	for _, t := range snap.AllTables() {
		if t.Owner == user {
			out = append(out, "owner of table "+t.Name)
		}
		if t.Privileges[user] != 0 {
			out = append(out, "privileges for table "+t.Name)
		}
	}
	return out
}

// requireRoleAdmin checks that the user may grant or revoke membership in
// role: admins may for any role; CREATEROLE holders and members WITH
// ADMIN OPTION for roles other than admin.
func requireRoleAdmin(snap *catalog.Snapshot, pr *catalog.Principal, role string) error {
	if pr.Admin {
		return nil
	}
	if role != catalog.AdminRole {
		if pr.CreateRole {
			return nil
		}
		for _, m := range snap.RoleMembers() {
			if m.Role == role && m.IsAdmin && pr.IsMemberOf(m.Member) {
				return nil
			}
		}
	}
	return pgerror.Newf(pgcode.InsufficientPrivilege, "user %s must have admin option on role %q", pr.Name, role)
}

// execGrantRole runs GRANT role TO member.
func (d *ddl) execGrantRole(ctx context.Context, t *tree.GrantRole) error {
	pr := d.s.principal(d.snap)
	for _, r := range t.Roles {
		role := strings.ToLower(string(r))
		if err := requireRoleAdmin(d.snap, pr, role); err != nil {
			return err
		}
		if d.snap.User(role) == nil {
			return errRoleNotFound(role)
		}
		for _, spec := range t.Members {
			member := d.s.roleName(spec)
			snap, err := d.descs.Snapshot(ctx)
			if err != nil {
				return err
			}
			if snap.User(member) == nil {
				return errRoleNotFound(member)
			}
			if member == role || snap.Principal(role).IsMemberOf(member) {
				return pgerror.Newf(pgcode.InvalidGrantOperation,
					"making %s a member of %s would create a cycle", member, role)
			}
			isAdmin := t.AdminOption
			for _, m := range snap.RoleMembers() {
				if m.Role == role && m.Member == member && m.IsAdmin {
					isAdmin = true
				}
			}
			if err := d.descs.PutRoleMember(ctx, catalog.RoleMember{Role: role, Member: member, IsAdmin: isAdmin}); err != nil {
				return err
			}
		}
	}
	return nil
}

// execRevokeRole runs REVOKE [ADMIN OPTION FOR] role FROM member.
func (d *ddl) execRevokeRole(ctx context.Context, t *tree.RevokeRole) error {
	pr := d.s.principal(d.snap)
	for _, r := range t.Roles {
		role := strings.ToLower(string(r))
		if err := requireRoleAdmin(d.snap, pr, role); err != nil {
			return err
		}
		if d.snap.User(role) == nil {
			return errRoleNotFound(role)
		}
		for _, spec := range t.Members {
			member := d.s.roleName(spec)
			if d.snap.User(member) == nil {
				return errRoleNotFound(member)
			}
			if role == catalog.AdminRole && member == catalog.RootUser {
				return pgerror.Newf(pgcode.InsufficientPrivilege,
					"user %s cannot be removed from role %s or lose the ADMIN OPTION", member, role)
			}
			if t.AdminOption {
				for _, m := range d.snap.RoleMembers() {
					if m.Role == role && m.Member == member {
						m.IsAdmin = false
						if err := d.descs.PutRoleMember(ctx, m); err != nil {
							return err
						}
					}
				}
				continue
			}
			if _, err := d.descs.DeleteRoleMember(ctx, role, member); err != nil {
				return err
			}
		}
	}
	return nil
}

// userOptions is the options column of SHOW USERS.
func userOptions(u *catalog.User) string {
	var opts []string
	if u.CreateDB {
		opts = append(opts, "CREATEDB")
	}
	if u.CreateRole {
		opts = append(opts, "CREATEROLE")
	}
	if !u.CanLogin {
		opts = append(opts, "NOLOGIN")
	}
	return strings.Join(opts, ", ")
}

// showUsers computes SHOW USERS and SHOW ROLES: username, options and the
// roles each is a direct member of. Passwords are never shown.
func (d *ddl) showUsers() []tree.Datums {
	var rows []tree.Datums
	for _, u := range d.snap.Users() {
		var of []string
		for _, m := range d.snap.RoleMembers() {
			if m.Member == u.Name {
				of = append(of, m.Role)
			}
		}
		sort.Strings(of)
		rows = append(rows, tree.Datums{dstr(u.Name), dstr(userOptions(u)), dstrArray(of)})
	}
	return rows
}

// execAlterRoleSet runs ALTER ROLE {r|ALL} [IN DATABASE d] SET var = value
// | RESET var | RESET ALL: session defaults applied when a session starts
// (before the startup options, which win).
func (d *ddl) execAlterRoleSet(ctx context.Context, t *tree.AlterRoleSet) error {
	pr := d.s.principal(d.snap)
	role := ""
	if t.AllRoles {
		if err := requireAdmin(pr, "ALTER ROLE ALL ... SET"); err != nil {
			return err
		}
	} else {
		role = d.s.roleName(t.RoleName)
		if d.snap.User(role) == nil {
			if t.IfExists {
				return nil
			}
			return errRoleNotFound(role)
		}
		if role != pr.Name {
			if err := requireCreateRole(pr); err != nil {
				return err
			}
			if d.snap.Principal(role).Admin && !pr.Admin {
				return pgerror.Newf(pgcode.InsufficientPrivilege,
					"only users with the admin role are allowed to alter another admin")
			}
		}
	}
	database := string(t.DatabaseName)
	if database != "" && d.snap.DatabaseByName(database) == nil {
		return pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", database)
	}
	rs := catalog.RoleSettings{Role: role, Database: database, Vars: map[string]string{}}
	if cur := d.snap.RoleSettings(role, database); cur != nil {
		for k, v := range cur.Vars {
			rs.Vars[k] = v
		}
	}
	sv := t.SetOrReset
	if len(sv.Values) == 1 {
		if _, ok := sv.Values[0].(tree.DefaultVal); ok {
			sv = &tree.SetVar{Name: sv.Name, Reset: true}
		}
	}
	switch {
	case sv.ResetAll:
		rs.Vars = nil
	case sv.Reset || len(sv.Values) == 0:
		v, err := lookupVar(sv.Name)
		if err != nil {
			return err
		}
		delete(rs.Vars, strings.ToLower(v.display))
	default:
		name := strings.ToLower(sv.Name)
		v, err := lookupVar(name)
		if err != nil {
			return err
		}
		if v.set == nil || name == "transaction_read_only" {
			return pgerror.Newf(pgcode.CantChangeRuntimeParam, "parameter %q cannot be changed", name)
		}
		var parts []string
		for _, e := range sv.Values {
			p, err := d.s.varValue(ctx, e, d.rp.ec.Placeholders)
			if err != nil {
				return err
			}
			parts = append(parts, p)
		}
		value := strings.Join(parts, ", ")
		if err := d.checkSessionDefault(ctx, name, value); err != nil {
			return err
		}
		rs.Vars[strings.ToLower(v.display)] = value
	}
	return d.descs.PutRoleSettings(ctx, &rs)
}

// checkSessionDefault validates a session default by applying it to a
// scratch session, so that a bad value is refused now rather than at every
// later login.
func (d *ddl) checkSessionDefault(ctx context.Context, name, value string) error {
	if name == "database" {
		if d.snap.DatabaseByName(value) == nil {
			return pgerror.Newf(pgcode.InvalidCatalogName, "database %q does not exist", value)
		}
		return nil
	}
	scratch := &Session{srv: d.s.srv, data: defaultSessionData(), done: make(chan struct{})}
	return scratch.setVar(ctx, name, value)
}
