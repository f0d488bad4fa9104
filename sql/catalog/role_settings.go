package catalog

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
)

// RoleSettings are session defaults set with ALTER ROLE {r|ALL} [IN
// DATABASE d] SET var = value. They are part of the catalog version (like
// users), so a session's start reads them from the snapshot it already
// holds.
type RoleSettings struct {
	// Role is "" for ALL; Database "" for every database.
	Role     string            `json:"role"`
	Database string            `json:"database"`
	Vars     map[string]string `json:"vars"`
}

type roleSettingsKey struct{ role, database string }

func scanRoleSettings(ctx context.Context, txn *kv.Txn, keys Keys) ([]*RoleSettings, error) {
	var out []*RoleSettings
	err := scanAll(ctx, txn, keys.RoleSettingsPrefix(), func(k, v []byte) error {
		var rs RoleSettings
		if err := json.Unmarshal(v, &rs); err != nil {
			return errors.Wrapf(err, "decoding role settings key %x", k)
		}
		out = append(out, &rs)
		return nil
	})
	return out, err
}

// RoleSettings returns the session defaults of role in database (nil when
// none): role "" and database "" select the ALL and every-database
// entries.
func (s *Snapshot) RoleSettings(role, database string) *RoleSettings {
	return s.roleSettings[roleSettingsKey{role, database}]
}

// SessionDefaults returns the session defaults that apply to user
// connecting to database, most specific last: ALL roles, then ALL roles in
// the database, then the user, then the user in the database (the
// precedence of PostgreSQL and CockroachDB).
func (s *Snapshot) SessionDefaults(user, database string) [][2]string {
	var out [][2]string
	for _, k := range []roleSettingsKey{{"", ""}, {"", database}, {user, ""}, {user, database}} {
		rs := s.roleSettings[k]
		if rs == nil {
			continue
		}
		names := make([]string, 0, len(rs.Vars))
		for n := range rs.Vars {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, [2]string{n, rs.Vars[n]})
		}
	}
	return out
}

// PutRoleSettings stores (or, when rs.Vars is empty, removes) the session
// defaults of rs.Role in rs.Database.
func (c *Collection) PutRoleSettings(ctx context.Context, rs *RoleSettings) error {
	s, err := c.mutable(ctx)
	if err != nil {
		return err
	}
	key := c.keys.RoleSetting(rs.Role, rs.Database)
	k := roleSettingsKey{rs.Role, rs.Database}
	if len(rs.Vars) == 0 {
		delete(s.roleSettings, k)
		return c.txn.Delete(key)
	}
	b, err := json.Marshal(rs)
	if err != nil {
		return err
	}
	cp := *rs
	s.roleSettings[k] = &cp
	return c.txn.Put(key, b)
}
