package catalog

import "github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"

// Principal is what privilege checks need to know about one user in one
// catalog snapshot. It is computed once per snapshot and user and cached
// in the snapshot, so checks on the hot path cost a map lookup.
type Principal struct {
	Name string
	// Exists is false for a name with no user record.
	Exists bool
	// Roles holds the user itself, every role it belongs to directly or
	// through other roles, and the public pseudo-role.
	Roles []string
	// Admin is true for root and members of the admin role: they hold
	// every privilege.
	Admin bool
	// SystemPrivileges is the union of the system privileges of Roles.
	SystemPrivileges uint64
	// CreateDB and CreateRole are the user's own role options (role
	// options are not inherited, as in PostgreSQL).
	CreateDB, CreateRole bool
}

// HasSystemPrivilege reports whether the principal holds kind, directly,
// through a role, or by being an admin.
func (p *Principal) HasSystemPrivilege(kind privilege.Kind) bool {
	return p.Admin || p.SystemPrivileges&(kind.Mask()|privilege.ALL.Mask()) != 0
}

// HasPrivilege reports whether the principal holds kind on an object with
// the given owner and grants (by grantee, privilege.Kind bit sets): as
// admin, as a member of the owner, or through a grant of kind or ALL to
// one of its roles.
func (p *Principal) HasPrivilege(owner string, grants map[string]uint64, kind privilege.Kind) bool {
	if p.Admin {
		return true
	}
	want := kind.Mask() | privilege.ALL.Mask()
	for _, r := range p.Roles {
		if r == owner || grants[r]&want != 0 {
			return true
		}
	}
	return false
}

// IsMemberOf reports whether the principal is role or belongs to it.
func (p *Principal) IsMemberOf(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Principal returns the principal of user name in this snapshot.
func (s *Snapshot) Principal(name string) *Principal {
	if p, ok := s.principals.Load(name); ok {
		return p.(*Principal)
	}
	p := s.computePrincipal(name)
	s.principals.Store(name, p)
	return p
}

func (s *Snapshot) computePrincipal(name string) *Principal {
	p := &Principal{Name: name, Roles: []string{name}}
	u := s.users[name]
	if u != nil {
		p.Exists = true
		p.SystemPrivileges = u.SystemPrivileges
		p.CreateDB, p.CreateRole = u.CreateDB, u.CreateRole
	}
	seen := map[string]bool{name: true}
	for i := 0; i < len(p.Roles); i++ {
		for _, m := range s.members {
			if m.Member == p.Roles[i] && !seen[m.Role] {
				seen[m.Role] = true
				p.Roles = append(p.Roles, m.Role)
				if r := s.users[m.Role]; r != nil {
					p.SystemPrivileges |= r.SystemPrivileges
				}
			}
		}
	}
	p.Admin = name == RootUser || seen[AdminRole]
	if !seen[PublicRole] {
		p.Roles = append(p.Roles, PublicRole)
		if r := s.users[PublicRole]; r != nil {
			p.SystemPrivileges |= r.SystemPrivileges
		}
	}
	return p
}

// MemberOf returns the roles user belongs to, directly or through other
// roles (not the user itself or the public pseudo-role), in no particular
// order.
func (s *Snapshot) MemberOf(user string) []string {
	p := s.Principal(user)
	var out []string
	for _, r := range p.Roles[1:] {
		if r != PublicRole {
			out = append(out, r)
		}
	}
	return out
}
