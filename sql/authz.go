package sql

import (
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/vcdb/vcdb/sql/catalog"
)

// Authorization
//
// Users, roles, memberships and grants are part of the catalog version
// (sql/catalog), so a check made against a catalog snapshot holds for as
// long as that version is current. Checks therefore run when a statement
// is planned: a cached plan, reused only while its catalog version is the
// transaction's, needs no check at all, and the hot path of a prepared
// point SELECT or INSERT pays nothing. Computing a user's roles is done
// once per snapshot and user (catalog.Snapshot.Principal) and cached again
// per session and version (Session.principal).
//
// Errors are CockroachDB's, SQLSTATE 42501 with the object named:
//
//	user u does not have SELECT privilege on relation t
//	user u does not have CREATE privilege on database d
//	user u does not have MANAGEVIRTUALCLUSTER system privilege
//
// What each statement needs (CockroachDB's rules, except where noted):
//
//	SELECT (and reads of a table by any statement)  SELECT on the table
//	INSERT                                          INSERT (+ SELECT with RETURNING; + SELECT, UPDATE for UPSERT / ON CONFLICT)
//	UPDATE / DELETE                                 UPDATE / DELETE and SELECT
//	CREATE TABLE [AS]                               CREATE on the database (vcdb: no schema privileges; PostgreSQL 15's rule
//	                                                that public may not create in a database it was not granted CREATE on)
//	ALTER TABLE, CREATE/DROP/RENAME INDEX, RENAME COLUMN   CREATE on the table
//	DROP TABLE, TRUNCATE, RENAME TABLE              DROP on the table
//	DROP DATABASE                                   DROP on the database
//	CREATE DATABASE                                 admin or the CREATEDB option
//	ALTER DATABASE RENAME                           admin or owner
//	GRANT / REVOKE on an object                     admin or owner (no WITH GRANT OPTION)
//	CREATE/ALTER/DROP USER|ROLE, GRANT/REVOKE role  admin or CREATEROLE (a user may change its own password;
//	                                                only admins may grant or revoke admin)
//	GRANT / REVOKE SYSTEM                           admin
//	SET CLUSTER SETTING                             admin or MODIFYCLUSTERSETTING
//	SHOW CLUSTER SETTING(S)                         admin or VIEWCLUSTERSETTING or MODIFYCLUSTERSETTING
//	virtual cluster statements, fingerprints        admin or MANAGEVIRTUALCLUSTER (system VC only)
//	CREATE EXTERNAL CONNECTION                      admin or EXTERNALCONNECTION (system VC only)
//	SHOW SESSIONS                                   own sessions; all with admin or VIEWACTIVITY

// principal returns the session user's principal in snap, cached for the
// snapshot's version.
func (s *Session) principal(snap *catalog.Snapshot) *catalog.Principal {
	if snap.Version != "" && s.authz.p != nil && s.authz.version == snap.Version {
		return s.authz.p
	}
	p := snap.Principal(s.data.user)
	if snap.Version != "" {
		s.authz.version, s.authz.p = snap.Version, p
	}
	return p
}

func (p *planner) principal() *catalog.Principal { return p.s.principal(p.cat) }

// requireTablePrivileges checks that the user holds every kind on t.
func (p *planner) requireTablePrivileges(t *catalog.Table, kinds ...privilege.Kind) error {
	pr := p.principal()
	for _, k := range kinds {
		if !pr.HasPrivilege(t.Owner, t.Privileges, k) {
			return pgerror.Newf(pgcode.InsufficientPrivilege,
				"user %s does not have %s privilege on relation %s", pr.Name, privilegeName(k), t.Name)
		}
	}
	return nil
}

// requireDatabasePrivilege checks that the user holds kind on db.
func (p *planner) requireDatabasePrivilege(db *catalog.Database, kind privilege.Kind) error {
	pr := p.principal()
	if !pr.HasPrivilege(db.Owner, db.Privileges, kind) {
		return pgerror.Newf(pgcode.InsufficientPrivilege,
			"user %s does not have %s privilege on database %s", pr.Name, privilegeName(kind), db.Name)
	}
	return nil
}

// requireSystemPrivilege checks that the user is an admin or holds the
// system privilege kind.
func requireSystemPrivilege(pr *catalog.Principal, kind privilege.Kind) error {
	if pr.HasSystemPrivilege(kind) {
		return nil
	}
	return pgerror.Newf(pgcode.InsufficientPrivilege,
		"user %s does not have %s system privilege", pr.Name, privilegeName(kind))
}

// requireAnySystemPrivilege checks that the user is an admin or holds one
// of kinds; the error names the first.
func requireAnySystemPrivilege(pr *catalog.Principal, kinds ...privilege.Kind) error {
	for _, k := range kinds {
		if pr.HasSystemPrivilege(k) {
			return nil
		}
	}
	return requireSystemPrivilege(pr, kinds[0])
}

// requireAdmin checks that the user is an admin; what completes "only
// users with the admin role are allowed to ...".
func requireAdmin(pr *catalog.Principal, what string) error {
	if pr.Admin {
		return nil
	}
	return pgerror.Newf(pgcode.InsufficientPrivilege,
		"only users with the admin role are allowed to %s", what)
}

// requireOwner checks that the user is an admin or (a member of) owner;
// kind and name describe the object ("database", "d").
func requireOwner(pr *catalog.Principal, owner, kind, name string) error {
	if pr.Admin || pr.IsMemberOf(owner) {
		return nil
	}
	return pgerror.Newf(pgcode.InsufficientPrivilege, "must be owner of %s %s", kind, name)
}
