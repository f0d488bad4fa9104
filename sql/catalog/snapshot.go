package catalog

import (
	"sort"
	"sync"
)

// Snapshot is the set of descriptors of one catalog version, indexed for
// name resolution. A Snapshot in the Cache is immutable; a Collection's
// private copy is modified only by its transaction.
type Snapshot struct {
	// Version is the catalog version the snapshot was read at (the bytes of
	// the version key; empty for a private, modified copy).
	Version string

	byID    map[ID]*Descriptor
	dbs     map[string]*Database
	schemas map[schemaKey]*Schema
	tables  map[objectKey]*Table

	// users and members are the VC's principals and role memberships
	// (members sorted by role, then member).
	users   map[string]*User
	members []RoleMember
	// roleSettings are the session defaults of ALTER ROLE ... SET.
	roleSettings map[roleSettingsKey]*RoleSettings
	// principals caches Principal per user name; a shared snapshot is
	// read by many sessions at once, hence the sync.Map. Replaced (not
	// cleared) when a private copy changes.
	principals *sync.Map
}

type schemaKey struct {
	db   ID
	name string
}

type objectKey struct {
	db, schema ID
	name       string
}

func newSnapshot(version string, descs []*Descriptor, users []*User, members []RoleMember, settings ...*RoleSettings) *Snapshot {
	s := &Snapshot{
		Version:    version,
		byID:       make(map[ID]*Descriptor, len(descs)),
		dbs:        make(map[string]*Database),
		schemas:    make(map[schemaKey]*Schema),
		tables:     make(map[objectKey]*Table),
		users:      make(map[string]*User, len(users)),
		members:    members,
		principals: &sync.Map{},

		roleSettings: make(map[roleSettingsKey]*RoleSettings, len(settings)),
	}
	for _, rs := range settings {
		s.roleSettings[roleSettingsKey{rs.Role, rs.Database}] = rs
	}
	for _, d := range descs {
		s.add(d)
	}
	for _, u := range users {
		s.users[u.Name] = u
	}
	sortMembers(s.members)
	return s
}

// resetPrincipals drops the cached principals of a private copy whose
// users or memberships changed.
func (s *Snapshot) resetPrincipals() { s.principals = &sync.Map{} }

func (s *Snapshot) add(d *Descriptor) {
	s.byID[d.ID()] = d
	switch {
	case d.Database != nil:
		s.dbs[d.Database.Name] = d.Database
	case d.Schema != nil:
		s.schemas[schemaKey{d.Schema.ParentID, d.Schema.Name}] = d.Schema
	case d.Table != nil:
		t := d.Table
		s.tables[objectKey{t.ParentID, t.SchemaID, t.Name}] = t
	}
}

func (s *Snapshot) remove(id ID) {
	d, ok := s.byID[id]
	if !ok {
		return
	}
	delete(s.byID, id)
	switch {
	case d.Database != nil:
		delete(s.dbs, d.Database.Name)
	case d.Schema != nil:
		delete(s.schemas, schemaKey{d.Schema.ParentID, d.Schema.Name})
	case d.Table != nil:
		t := d.Table
		delete(s.tables, objectKey{t.ParentID, t.SchemaID, t.Name})
	}
}

// clone returns a copy whose maps may be changed; descriptors are shared and
// must be replaced, never modified.
func (s *Snapshot) clone() *Snapshot {
	c := &Snapshot{
		byID:       make(map[ID]*Descriptor, len(s.byID)),
		dbs:        make(map[string]*Database, len(s.dbs)),
		schemas:    make(map[schemaKey]*Schema, len(s.schemas)),
		tables:     make(map[objectKey]*Table, len(s.tables)),
		users:      make(map[string]*User, len(s.users)),
		members:    append([]RoleMember(nil), s.members...),
		principals: &sync.Map{},

		roleSettings: make(map[roleSettingsKey]*RoleSettings, len(s.roleSettings)),
	}
	for k, v := range s.roleSettings {
		c.roleSettings[k] = v
	}
	for k, v := range s.users {
		c.users[k] = v
	}
	for k, v := range s.byID {
		c.byID[k] = v
	}
	for k, v := range s.dbs {
		c.dbs[k] = v
	}
	for k, v := range s.schemas {
		c.schemas[k] = v
	}
	for k, v := range s.tables {
		c.tables[k] = v
	}
	return c
}

// ByID returns descriptor id, or nil.
func (s *Snapshot) ByID(id ID) *Descriptor { return s.byID[id] }

// TableByID returns table id, or nil.
func (s *Snapshot) TableByID(id ID) *Table {
	if d := s.byID[id]; d != nil {
		return d.Table
	}
	return nil
}

// DatabaseByID returns database id, or nil.
func (s *Snapshot) DatabaseByID(id ID) *Database {
	if d := s.byID[id]; d != nil {
		return d.Database
	}
	return nil
}

// SchemaByID returns schema id, or nil.
func (s *Snapshot) SchemaByID(id ID) *Schema {
	if d := s.byID[id]; d != nil {
		return d.Schema
	}
	return nil
}

// DatabaseByName returns the database called name, or nil.
func (s *Snapshot) DatabaseByName(name string) *Database { return s.dbs[name] }

// SchemaByName returns schema name of database db, or nil.
func (s *Snapshot) SchemaByName(db ID, name string) *Schema {
	return s.schemas[schemaKey{db, name}]
}

// TableByName returns table name of schema sc in database db, or nil.
func (s *Snapshot) TableByName(db, sc ID, name string) *Table {
	return s.tables[objectKey{db, sc, name}]
}

// Databases returns every database, ordered by name.
func (s *Snapshot) Databases() []*Database {
	out := make([]*Database, 0, len(s.dbs))
	for _, name := range sortedNames(s.dbs) {
		out = append(out, s.dbs[name])
	}
	return out
}

// Schemas returns the schemas of database db, ordered by name.
func (s *Snapshot) Schemas(db ID) []*Schema {
	var out []*Schema
	for k, sc := range s.schemas {
		if k.db == db {
			out = append(out, sc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Tables returns the tables of database db (every schema when sc is 0),
// ordered by schema id then name.
func (s *Snapshot) Tables(db, sc ID) []*Table {
	var out []*Table
	for k, t := range s.tables {
		if k.db == db && (sc == 0 || k.schema == sc) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].SchemaID != out[j].SchemaID {
			return out[i].SchemaID < out[j].SchemaID
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// AllTables returns every table, ordered by id.
func (s *Snapshot) AllTables() []*Table {
	out := make([]*Table, 0, len(s.tables))
	for _, t := range s.tables {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// User returns the user or role called name, or nil. The record is shared:
// copy it before changing it.
func (s *Snapshot) User(name string) *User { return s.users[name] }

// Users returns every user and role, ordered by name.
func (s *Snapshot) Users() []*User {
	out := make([]*User, 0, len(s.users))
	for _, name := range sortedNames(s.users) {
		out = append(out, s.users[name])
	}
	return out
}

// RoleMembers returns every membership, ordered by role then member.
func (s *Snapshot) RoleMembers() []RoleMember { return s.members }
