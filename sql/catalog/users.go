package catalog

import (
	"context"
	"encoding/json"

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
type User struct {
	Name string `json:"name"`
	// IsRole is true for principals created with CREATE ROLE.
	IsRole bool `json:"is_role,omitempty"`
	// CanLogin is the LOGIN option.
	CanLogin bool `json:"login"`
	// PasswordVerifier is the stored SCRAM-SHA-256 verifier ("" when the
	// principal has no password). The password itself is never stored.
	PasswordVerifier string `json:"password_verifier,omitempty"`
}

// RoleMember records that Member belongs to Role.
type RoleMember struct {
	Role    string `json:"role"`
	Member  string `json:"member"`
	IsAdmin bool   `json:"is_admin,omitempty"`
}

// GetUser reads user name's record.
func GetUser(ctx context.Context, txn *kv.Txn, keys Keys, name string) (*User, bool, error) {
	v, found, err := txn.Get(ctx, keys.User(name))
	if err != nil || !found {
		return nil, false, err
	}
	var u User
	if err := json.Unmarshal(v, &u); err != nil {
		return nil, false, errors.Wrapf(err, "decoding user %q", name)
	}
	return &u, true, nil
}

// PutUser creates or replaces a user record.
func PutUser(txn *kv.Txn, keys Keys, u *User) error {
	b, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return txn.Put(keys.User(u.Name), b)
}

// DeleteUser removes a user record and its memberships.
func DeleteUser(ctx context.Context, txn *kv.Txn, keys Keys, name string) error {
	members, err := ListRoleMembers(ctx, txn, keys)
	if err != nil {
		return err
	}
	for _, m := range members {
		if m.Member == name || m.Role == name {
			if err := txn.Delete(keys.RoleMember(m.Role, m.Member)); err != nil {
				return err
			}
		}
	}
	return txn.Delete(keys.User(name))
}

// ListUsers returns every user and role, ordered by name.
func ListUsers(ctx context.Context, txn *kv.Txn, keys Keys) ([]*User, error) {
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

// PutRoleMember records a membership.
func PutRoleMember(txn *kv.Txn, keys Keys, m RoleMember) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return txn.Put(keys.RoleMember(m.Role, m.Member), b)
}

// ListRoleMembers returns every membership, ordered by role then member.
func ListRoleMembers(ctx context.Context, txn *kv.Txn, keys Keys) ([]RoleMember, error) {
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

// MemberOf returns the roles user belongs to, directly or through other
// roles (not including user itself or the public pseudo-role).
func MemberOf(ctx context.Context, txn *kv.Txn, keys Keys, user string) (map[string]bool, error) {
	members, err := ListRoleMembers(ctx, txn, keys)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	frontier := []string{user}
	for len(frontier) > 0 {
		cur := frontier[0]
		frontier = frontier[1:]
		for _, m := range members {
			if m.Member == cur && !out[m.Role] {
				out[m.Role] = true
				frontier = append(frontier, m.Role)
			}
		}
	}
	return out, nil
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
