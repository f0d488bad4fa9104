package catalog

import (
	"encoding/json"
	"sort"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/parser"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/errors"
)

// ID identifies a database, schema or table (one id space, as in
// CockroachDB).
type ID uint32

// ColumnID identifies a column within its table; never reused.
type ColumnID uint32

// IndexID identifies an index within its table; the primary index is 1.
type IndexID uint32

// PrimaryIndexID is the id of every table's primary index.
const PrimaryIndexID IndexID = 1

// Descriptor is the stored form of one catalog object: exactly one field is
// set.
type Descriptor struct {
	Database *Database `json:"database,omitempty"`
	Schema   *Schema   `json:"schema,omitempty"`
	Table    *Table    `json:"table,omitempty"`
}

// ID returns the id of the object.
func (d *Descriptor) ID() ID {
	switch {
	case d.Database != nil:
		return d.Database.ID
	case d.Schema != nil:
		return d.Schema.ID
	default:
		return d.Table.ID
	}
}

// Database is a database descriptor.
type Database struct {
	ID    ID     `json:"id"`
	Name  string `json:"name"`
	Owner string `json:"owner"`
	// Privileges are the grants on the database, by grantee, as
	// privilege.Kind bit sets (Kind.Mask()).
	Privileges map[string]uint64 `json:"privileges,omitempty"`
}

// Clone returns a copy that may be modified.
func (d *Database) Clone() *Database {
	c := *d
	c.Privileges = clonePrivileges(d.Privileges)
	return &c
}

// Schema is a schema descriptor. Every database has a "public" schema.
type Schema struct {
	ID       ID     `json:"id"`
	ParentID ID     `json:"parent_id"`
	Name     string `json:"name"`
	Owner    string `json:"owner"`
}

// Column is a table column.
type Column struct {
	ID       ColumnID `json:"id"`
	Name     string   `json:"name"`
	TypeSQL  string   `json:"type"`
	Nullable bool     `json:"nullable"`
	// Hidden columns (the implicit rowid) are left out of SELECT * and of
	// INSERT without a column list.
	Hidden bool `json:"hidden,omitempty"`
	// Default is the DEFAULT expression's SQL text, type-checked when it
	// was stored ("" when none).
	Default string `json:"default,omitempty"`

	// Type is TypeSQL parsed; set by Table.init.
	Type *types.T `json:"-"`
}

// HasDefault reports whether the column has a DEFAULT expression.
func (c *Column) HasDefault() bool { return c.Default != "" }

// Index is the primary index or a secondary index of a table. A unique
// secondary index's key is its key columns alone (plus the primary key
// columns when one of them is NULL, since NULLs never conflict); a
// non-unique index's key is its key columns followed by the primary key
// columns it does not already hold (KeySuffixColumnIDs).
type Index struct {
	ID                 IndexID    `json:"id"`
	Name               string     `json:"name"`
	Unique             bool       `json:"unique,omitempty"`
	KeyColumnIDs       []ColumnID `json:"key_column_ids"`
	KeyDescending      []bool     `json:"key_descending"`
	KeySuffixColumnIDs []ColumnID `json:"key_suffix_column_ids,omitempty"`
	StoreColumnIDs     []ColumnID `json:"store_column_ids,omitempty"`
	// StoredValues is set when the index's entries carry the values of
	// StoreColumnIDs (after the primary key of a unique entry), so that a
	// read needing only key, primary key and stored columns uses the index
	// alone. Indexes created before STORING columns were written have
	// StoreColumnIDs without StoredValues: their entries carry no stored
	// values and are never read as covering them.
	StoredValues bool `json:"stored_values,omitempty"`
	// Constraint marks a unique index created by a UNIQUE constraint of
	// CREATE TABLE (SHOW CREATE prints it as UNIQUE INDEX either way, as
	// CockroachDB does).
	Constraint bool `json:"constraint,omitempty"`
}

// Check is a CHECK constraint.
type Check struct {
	Name      string     `json:"name"`
	Expr      string     `json:"expr"`
	ColumnIDs []ColumnID `json:"column_ids"`
}

// Table is a table descriptor.
type Table struct {
	ID           ID       `json:"id"`
	ParentID     ID       `json:"parent_id"`
	SchemaID     ID       `json:"schema_id"`
	Name         string   `json:"name"`
	Owner        string   `json:"owner"`
	Columns      []Column `json:"columns"`
	NextColumnID ColumnID `json:"next_column_id"`
	PrimaryIndex Index    `json:"primary_index"`
	Indexes      []Index  `json:"indexes,omitempty"`
	NextIndexID  IndexID  `json:"next_index_id"`
	Checks       []Check  `json:"checks,omitempty"`
	// Privileges are the grants on the table, by grantee, as
	// privilege.Kind bit sets (Kind.Mask()).
	Privileges map[string]uint64 `json:"privileges,omitempty"`

	// colOrdByID maps a column id to its position in Columns (-1 when the
	// id belongs to no current column); set by init.
	colOrdByID []int
}

// init derives the fields that are not stored.
func (t *Table) init() error {
	t.colOrdByID = make([]int, t.NextColumnID+1)
	for i := range t.colOrdByID {
		t.colOrdByID[i] = -1
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		typ, err := ParseType(c.TypeSQL)
		if err != nil {
			return errors.Wrapf(err, "column %s of table %s", c.Name, t.Name)
		}
		c.Type = typ
		if int(c.ID) >= len(t.colOrdByID) {
			return errors.AssertionFailedf("column %s id %d >= next id %d", c.Name, c.ID, t.NextColumnID)
		}
		t.colOrdByID[c.ID] = i
	}
	return nil
}

// ParseType parses a type's SQL text as stored in a descriptor.
func ParseType(sql string) (*types.T, error) {
	ref, err := parser.GetTypeFromValidSQLSyntax(sql)
	if err != nil {
		return nil, err
	}
	typ, ok := tree.GetStaticallyKnownType(ref)
	if !ok {
		return nil, errors.Newf("type %q is not a built-in type", sql)
	}
	return typ, nil
}

// ColumnOrdinal returns the position in Columns of column id, or -1.
func (t *Table) ColumnOrdinal(id ColumnID) int {
	if int(id) >= len(t.colOrdByID) {
		return -1
	}
	return t.colOrdByID[id]
}

// ColumnByID returns column id, or nil.
func (t *Table) ColumnByID(id ColumnID) *Column {
	if o := t.ColumnOrdinal(id); o >= 0 {
		return &t.Columns[o]
	}
	return nil
}

// ColumnByName returns the column called name, or nil.
func (t *Table) ColumnByName(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// IndexByName returns the index called name (primary included), or nil.
func (t *Table) IndexByName(name string) *Index {
	if t.PrimaryIndex.Name == name {
		return &t.PrimaryIndex
	}
	for i := range t.Indexes {
		if t.Indexes[i].Name == name {
			return &t.Indexes[i]
		}
	}
	return nil
}

// AllIndexes returns the primary index followed by the secondary indexes.
func (t *Table) AllIndexes() []*Index {
	out := make([]*Index, 0, 1+len(t.Indexes))
	out = append(out, &t.PrimaryIndex)
	for i := range t.Indexes {
		out = append(out, &t.Indexes[i])
	}
	return out
}

// IsPrimaryKeyColumn reports whether column id is a primary key column.
func (t *Table) IsPrimaryKeyColumn(id ColumnID) bool {
	for _, c := range t.PrimaryIndex.KeyColumnIDs {
		if c == id {
			return true
		}
	}
	return false
}

// Clone returns a deep copy that may be modified.
func (t *Table) Clone() *Table {
	b, err := json.Marshal(t)
	if err != nil {
		panic(errors.NewAssertionErrorWithWrappedErrf(err, "cloning table %s", t.Name))
	}
	var c Table
	if err := json.Unmarshal(b, &c); err != nil {
		panic(errors.NewAssertionErrorWithWrappedErrf(err, "cloning table %s", t.Name))
	}
	if err := c.init(); err != nil {
		panic(errors.NewAssertionErrorWithWrappedErrf(err, "cloning table %s", t.Name))
	}
	return &c
}

// Finish recomputes derived fields after a change to a cloned table; it
// validates the column types.
func (t *Table) Finish() error { return t.init() }

// VisibleColumns returns the columns SELECT * shows, in order.
func (t *Table) VisibleColumns() []*Column {
	out := make([]*Column, 0, len(t.Columns))
	for i := range t.Columns {
		if !t.Columns[i].Hidden {
			out = append(out, &t.Columns[i])
		}
	}
	return out
}

// encode returns the stored form of d.
func encodeDescriptor(d *Descriptor) ([]byte, error) {
	return json.Marshal(d)
}

// decodeDescriptor parses a stored descriptor and derives its runtime fields.
func decodeDescriptor(b []byte) (*Descriptor, error) {
	var d Descriptor
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, errors.Wrap(err, "decoding descriptor")
	}
	n := 0
	for _, set := range []bool{d.Database != nil, d.Schema != nil, d.Table != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, errors.AssertionFailedf("descriptor has %d kinds", n)
	}
	if d.Table != nil {
		if err := d.Table.init(); err != nil {
			return nil, err
		}
	}
	return &d, nil
}

// sortedNames returns the keys of m in order.
func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
