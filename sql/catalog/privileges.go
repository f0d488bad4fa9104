package catalog

import "github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"

// Default grants, as CockroachDB writes them on a new object: admin and
// root hold ALL on every database and table, the creator holds ALL on what
// it creates, and public may CONNECT to a database.

// DefaultDatabasePrivileges returns the grants of a new database created by
// creator.
func DefaultDatabasePrivileges(creator string) map[string]uint64 {
	p := defaultPrivileges(creator)
	p[PublicRole] = privilege.CONNECT.Mask()
	return p
}

// DefaultTablePrivileges returns the grants of a new table created by
// creator.
func DefaultTablePrivileges(creator string) map[string]uint64 {
	return defaultPrivileges(creator)
}

func defaultPrivileges(creator string) map[string]uint64 {
	all := privilege.ALL.Mask()
	p := map[string]uint64{AdminRole: all, RootUser: all}
	if creator != "" {
		p[creator] = all
	}
	return p
}

func clonePrivileges(p map[string]uint64) map[string]uint64 {
	if p == nil {
		return nil
	}
	c := make(map[string]uint64, len(p))
	for k, v := range p {
		c[k] = v
	}
	return c
}

// ClonePrivileges returns a copy of a grant map that may be modified.
func ClonePrivileges(p map[string]uint64) map[string]uint64 { return clonePrivileges(p) }
