package catalog

import (
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/encoding"
)

// Key layout inside a VC's span (after tenant.Prefix). The first component
// is a "table id" as in CockroachDB's /Table/<id>/<index>/... layout, so that
// system data and SQL tables share one key shape:
//
//	/1/1/<descriptor id>          descriptor JSON
//	/2/1/"version"                catalog version (random bytes, new per DDL txn)
//	/2/1/"next_id"                next descriptor id (uvarint value)
//	/3/1/<user name>              user or role record (JSON)
//	/4/1/<role>/<member>          role membership (JSON)
//	/5/1/<setting name>           cluster setting value (text)
//	/6/1/<role>/<database>        session defaults of ALTER ROLE ... SET (JSON;
//	                              "" for ALL roles or every database)
//	/<table id>/<index id>/<key columns...>   SQL rows (rowenc)
//
// Ids below FirstUserID are reserved for system data; databases, schemas and
// tables get ids from FirstUserID up, never reused.
const (
	descriptorTableID   = 1
	metaTableID         = 2
	usersTableID        = 3
	roleMembersTableID  = 4
	settingsTableID     = 5
	roleSettingsTableID = 6

	// FirstUserID is the first id given to a database, schema or table.
	FirstUserID ID = 100
)

// Keys builds the catalog's keys for one VC. Its methods allocate; none of
// them is on a per-row path.
type Keys struct {
	// Prefix is the VC's key prefix (tenant.Prefix).
	Prefix []byte
}

func (k Keys) table(tableID, indexID uint64) []byte {
	b := append([]byte(nil), k.Prefix...)
	b = encoding.EncodeUvarintAscending(b, tableID)
	return encoding.EncodeUvarintAscending(b, indexID)
}

// DescriptorPrefix is the prefix of every descriptor key.
func (k Keys) DescriptorPrefix() []byte { return k.table(descriptorTableID, 1) }

// Descriptor is the key of descriptor id.
func (k Keys) Descriptor(id ID) []byte {
	return encoding.EncodeUvarintAscending(k.DescriptorPrefix(), uint64(id))
}

// Version is the key of the catalog version.
func (k Keys) Version() []byte {
	return encoding.EncodeStringAscending(k.table(metaTableID, 1), "version")
}

// NextID is the key of the descriptor id counter.
func (k Keys) NextID() []byte {
	return encoding.EncodeStringAscending(k.table(metaTableID, 1), "next_id")
}

// UsersPrefix is the prefix of every user record.
func (k Keys) UsersPrefix() []byte { return k.table(usersTableID, 1) }

// User is the key of user (or role) name's record.
func (k Keys) User(name string) []byte {
	return encoding.EncodeStringAscending(k.UsersPrefix(), name)
}

// RoleMembersPrefix is the prefix of every role membership.
func (k Keys) RoleMembersPrefix() []byte { return k.table(roleMembersTableID, 1) }

// RoleMember is the key recording that member belongs to role.
func (k Keys) RoleMember(role, member string) []byte {
	return encoding.EncodeStringAscending(
		encoding.EncodeStringAscending(k.RoleMembersPrefix(), role), member)
}

// SettingsPrefix is the prefix of every cluster setting.
func (k Keys) SettingsPrefix() []byte { return k.table(settingsTableID, 1) }

// Setting is the key of cluster setting name.
func (k Keys) Setting(name string) []byte {
	return encoding.EncodeStringAscending(k.SettingsPrefix(), name)
}

// RoleSettingsPrefix is the prefix of every role's session defaults.
func (k Keys) RoleSettingsPrefix() []byte { return k.table(roleSettingsTableID, 1) }

// RoleSetting is the key of the session defaults of role in database (""
// for all roles or all databases).
func (k Keys) RoleSetting(role, database string) []byte {
	return encoding.EncodeStringAscending(
		encoding.EncodeStringAscending(k.RoleSettingsPrefix(), role), database)
}

// TablePrefix is the prefix of every key of table id.
func (k Keys) TablePrefix(id ID) []byte {
	b := append([]byte(nil), k.Prefix...)
	return encoding.EncodeUvarintAscending(b, uint64(id))
}

// IndexPrefix is the prefix of every entry of index idx of table id.
func (k Keys) IndexPrefix(id ID, idx IndexID) []byte {
	return k.table(uint64(id), uint64(idx))
}
