package catalog

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/encoding"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
)

// Well-known principals every VC is bootstrapped with.
const (
	RootUser  = "root"
	AdminRole = "admin"
	// PublicRole is the pseudo-role every user belongs to; it has no record.
	PublicRole = "public"
)

// User is a user or role record. CockroachDB does not distinguish the two
// beyond the LOGIN option; neither do we.
//
// Users, roles, memberships and grants are part of the catalog version:
// every change to them goes through a Collection, which writes a new
// version, so that a Snapshot holds them too and privilege checks made
// against a snapshot stay valid for as long as its version is current (the
// SQL layer checks privileges when it plans, and reuses plans per version).
type User struct {
	Name string `json:"name"`
	// IsRole is true for principals created with CREATE ROLE.
	IsRole bool `json:"is_role,omitempty"`
	// CanLogin is the LOGIN option.
	CanLogin bool `json:"login"`
	// PasswordVerifier is the stored SCRAM-SHA-256 verifier ("" when the
	// principal has no password). The password itself is never stored.
	PasswordVerifier string `json:"password_verifier,omitempty"`
	// CreateDB and CreateRole are the role options of the same names.
	CreateDB   bool `json:"createdb,omitempty"`
	CreateRole bool `json:"createrole,omitempty"`
	// SystemPrivileges are the privileges granted with GRANT SYSTEM, as a
	// privilege.Kind bit set (Kind.Mask()).
	SystemPrivileges uint64 `json:"system_privileges,omitempty"`
}

// HasSystemPrivilege reports whether u holds kind directly.
func (u *User) HasSystemPrivilege(kind privilege.Kind) bool {
	return u.SystemPrivileges&kind.Mask() != 0
}

// RoleMember records that Member belongs to Role.
type RoleMember struct {
	Role    string `json:"role"`
	Member  string `json:"member"`
	IsAdmin bool   `json:"is_admin,omitempty"`
}

func putUser(txn *kv.Txn, keys Keys, u *User) error {
	b, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return txn.Put(keys.User(u.Name), b)
}

func putRoleMember(txn *kv.Txn, keys Keys, m RoleMember) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return txn.Put(keys.RoleMember(m.Role, m.Member), b)
}

// scanUsers reads every user and role, ordered by name.
func scanUsers(ctx context.Context, txn *kv.Txn, keys Keys) ([]*User, error) {
	var out []*User
	err := scanAll(ctx, txn, keys.UsersPrefix(), func(k, v []byte) error {
		var u User
		if err := json.Unmarshal(v, &u); err != nil {
			return errors.Wrapf(err, "decoding user key %x", k)
		}
		out = append(out, &u)
		return nil
	})
	return out, err
}

// scanRoleMembers reads every membership, ordered by role then member.
func scanRoleMembers(ctx context.Context, txn *kv.Txn, keys Keys) ([]RoleMember, error) {
	var out []RoleMember
	err := scanAll(ctx, txn, keys.RoleMembersPrefix(), func(k, v []byte) error {
		var m RoleMember
		if err := json.Unmarshal(v, &m); err != nil {
			return errors.Wrapf(err, "decoding role member key %x", k)
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// PutUser creates or replaces a user or role record.
func (c *Collection) PutUser(ctx context.Context, u *User) error {
	s, err := c.mutable(ctx)
	if err != nil {
		return err
	}
	if err := putUser(c.txn, c.keys, u); err != nil {
		return err
	}
	cp := *u
	s.users[u.Name] = &cp
	s.resetPrincipals()
	return nil
}

// DeleteUser removes a user or role record and every membership it takes
// part in (as role or as member).
func (c *Collection) DeleteUser(ctx context.Context, name string) error {
	s, err := c.mutable(ctx)
	if err != nil {
		return err
	}
	kept := s.members[:0:0]
	for _, m := range s.members {
		if m.Member == name || m.Role == name {
			if err := c.txn.Delete(c.keys.RoleMember(m.Role, m.Member)); err != nil {
				return err
			}
			continue
		}
		kept = append(kept, m)
	}
	if err := c.txn.Delete(c.keys.User(name)); err != nil {
		return err
	}
	s.members = kept
	delete(s.users, name)
	s.resetPrincipals()
	return nil
}

// PutRoleMember records (or updates) a membership.
func (c *Collection) PutRoleMember(ctx context.Context, m RoleMember) error {
	s, err := c.mutable(ctx)
	if err != nil {
		return err
	}
	if err := putRoleMember(c.txn, c.keys, m); err != nil {
		return err
	}
	members := make([]RoleMember, 0, len(s.members)+1)
	for _, o := range s.members {
		if o.Role != m.Role || o.Member != m.Member {
			members = append(members, o)
		}
	}
	members = append(members, m)
	sortMembers(members)
	s.members = members
	s.resetPrincipals()
	return nil
}

// DeleteRoleMember removes a membership; it reports whether there was one.
func (c *Collection) DeleteRoleMember(ctx context.Context, role, member string) (bool, error) {
	snap, err := c.Snapshot(ctx)
	if err != nil {
		return false, err
	}
	found := false
	for _, m := range snap.members {
		if m.Role == role && m.Member == member {
			found = true
		}
	}
	if !found {
		return false, nil
	}
	s, err := c.mutable(ctx)
	if err != nil {
		return false, err
	}
	if err := c.txn.Delete(c.keys.RoleMember(role, member)); err != nil {
		return false, err
	}
	members := make([]RoleMember, 0, len(s.members))
	for _, o := range s.members {
		if o.Role != role || o.Member != member {
			members = append(members, o)
		}
	}
	s.members = members
	s.resetPrincipals()
	return true, nil
}

func sortMembers(ms []RoleMember) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Role != ms[j].Role {
			return ms[i].Role < ms[j].Role
		}
		return ms[i].Member < ms[j].Member
	})
}

// GetSetting reads cluster setting name as stored ("" and false when unset).
func GetSetting(ctx context.Context, txn *kv.Txn, keys Keys, name string) (string, bool, error) {
	v, found, err := txn.Get(ctx, keys.Setting(name))
	if err != nil || !found {
		return "", false, err
	}
	return string(v), true, nil
}

// PutSetting stores cluster setting name.
func PutSetting(txn *kv.Txn, keys Keys, name, value string) error {
	return txn.Put(keys.Setting(name), []byte(value))
}

// DeleteSetting removes cluster setting name, which then reads as its
// default.
func DeleteSetting(txn *kv.Txn, keys Keys, name string) error {
	return txn.Delete(keys.Setting(name))
}

// ListSettings returns every stored cluster setting.
func ListSettings(ctx context.Context, txn *kv.Txn, keys Keys) (map[string]string, error) {
	out := map[string]string{}
	prefix := keys.SettingsPrefix()
	err := scanAll(ctx, txn, prefix, func(k, v []byte) error {
		_, name, err := encoding.DecodeUnsafeStringAscendingDeepCopy(k[len(prefix):], nil)
		if err != nil {
			return err
		}
		out[name] = string(v)
		return nil
	})
	return out, err
}
