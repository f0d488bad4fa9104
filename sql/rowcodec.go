package sql

import (
	"sort"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/sql/rowenc"
)

// tableCodec turns rows of one table (datums in descriptor column order)
// into KV pairs and back. It is computed once per table descriptor at
// planning time and is immutable, so cached plans share it.
type tableCodec struct {
	table    *catalog.Table
	colTypes []*types.T
	primary  indexCodec
	// valueCols are the ordinals of the columns stored in the primary
	// index's value, in increasing column-id order: the non-key columns and
	// the composite key columns (rowenc.IsComposite).
	valueCols []int
	valueIDs  []catalog.ColumnID
	// lookup maps a column id to its ordinal (rowenc.ColumnLookup).
	lookup    rowenc.ColumnLookup
	secondary []indexCodec
}

// indexCodec is the key layout of one index.
type indexCodec struct {
	index  *catalog.Index
	prefix []byte
	// keyCols are the ordinals of the key columns; keyDirs their order.
	keyCols []int
	keyDirs []rowenc.Direction
	// suffixCols are the primary key columns appended to a non-unique
	// index's key (or a unique one's when a key column is NULL).
	suffixCols []int
	// pkCols are the primary key column ordinals and directions (for
	// secondary indexes: how the value / suffix encode the primary key).
	pkCols []int
	pkDirs []rowenc.Direction
	// storeCols are the ordinals of the STORING columns whose values the
	// entries carry (none for an index without Index.StoredValues), in
	// increasing column-id order, and storeIDs their ids.
	storeCols []int
	storeIDs  []catalog.ColumnID
}

func newTableCodec(keys catalog.Keys, t *catalog.Table) *tableCodec {
	c := &tableCodec{table: t}
	c.colTypes = make([]*types.T, len(t.Columns))
	for i := range t.Columns {
		c.colTypes[i] = t.Columns[i].Type
	}
	c.lookup = func(id uint32) int { return t.ColumnOrdinal(catalog.ColumnID(id)) }
	c.primary = newIndexCodec(keys, t, &t.PrimaryIndex)
	for i := range t.Columns {
		col := &t.Columns[i]
		if !t.IsPrimaryKeyColumn(col.ID) || rowenc.IsComposite(col.Type) {
			c.valueCols = append(c.valueCols, i)
		}
	}
	sort.Slice(c.valueCols, func(a, b int) bool {
		return t.Columns[c.valueCols[a]].ID < t.Columns[c.valueCols[b]].ID
	})
	for _, o := range c.valueCols {
		c.valueIDs = append(c.valueIDs, t.Columns[o].ID)
	}
	for i := range t.Indexes {
		c.secondary = append(c.secondary, newIndexCodec(keys, t, &t.Indexes[i]))
	}
	return c
}

func newIndexCodec(keys catalog.Keys, t *catalog.Table, idx *catalog.Index) indexCodec {
	ic := indexCodec{index: idx, prefix: keys.IndexPrefix(t.ID, idx.ID)}
	for i, id := range idx.KeyColumnIDs {
		ic.keyCols = append(ic.keyCols, t.ColumnOrdinal(id))
		ic.keyDirs = append(ic.keyDirs, rowenc.Direction(idx.KeyDescending[i]))
	}
	for _, id := range idx.KeySuffixColumnIDs {
		ic.suffixCols = append(ic.suffixCols, t.ColumnOrdinal(id))
	}
	pk := &t.PrimaryIndex
	for i, id := range pk.KeyColumnIDs {
		ic.pkCols = append(ic.pkCols, t.ColumnOrdinal(id))
		ic.pkDirs = append(ic.pkDirs, rowenc.Direction(pk.KeyDescending[i]))
	}
	if idx.StoredValues {
		ic.storeIDs = append([]catalog.ColumnID(nil), idx.StoreColumnIDs...)
		sort.Slice(ic.storeIDs, func(a, b int) bool { return ic.storeIDs[a] < ic.storeIDs[b] })
		for _, id := range ic.storeIDs {
			ic.storeCols = append(ic.storeCols, t.ColumnOrdinal(id))
		}
	}
	return ic
}

// encodeKeyCols appends the encodings of row's columns cols.
func encodeKeyCols(b []byte, row tree.Datums, cols []int, dirs []rowenc.Direction) ([]byte, error) {
	var err error
	for i, o := range cols {
		if b, err = rowenc.EncodeKey(b, row[o], dirs[i]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// primaryKey returns the primary index key of row (appended to b[:0]).
func (c *tableCodec) primaryKey(b []byte, row tree.Datums) ([]byte, error) {
	b = append(b[:0], c.primary.prefix...)
	return encodeKeyCols(b, row, c.primary.keyCols, c.primary.keyDirs)
}

// primaryValue returns the primary index value of row. It is never nil: an
// empty value is a live row.
func (c *tableCodec) primaryValue(b []byte, row tree.Datums) ([]byte, error) {
	b = b[:0]
	if b == nil {
		b = []byte{}
	}
	var last catalog.ColumnID
	var err error
	for i, o := range c.valueCols {
		d := row[o]
		if d == tree.DNull {
			continue
		}
		id := c.valueIDs[i]
		if b, err = rowenc.EncodeValue(b, uint32(id-last), d); err != nil {
			return nil, err
		}
		last = id
	}
	return b, nil
}

// secondaryEntry returns the key and value of row's entry in secondary
// index ic. The value holds, in this order, the primary key (key-encoded)
// when the key alone identifies the entry (a unique index whose key
// columns are not NULL), then the stored columns, encoded as in a primary
// index value (column-id deltas, NULLs omitted).
func (c *tableCodec) secondaryEntry(ic *indexCodec, row tree.Datums) (key, value []byte, err error) {
	key = append([]byte(nil), ic.prefix...)
	if key, err = encodeKeyCols(key, row, ic.keyCols, ic.keyDirs); err != nil {
		return nil, nil, err
	}
	value = []byte{}
	if ic.index.Unique && !hasNull(row, ic.keyCols) {
		// The key alone identifies the entry; the primary key goes in the
		// value.
		if value, err = encodeKeyCols(value, row, ic.pkCols, ic.pkDirs); err != nil {
			return nil, nil, err
		}
		value, err = c.appendStored(value, ic, row)
		return key, value, err
	}
	if value, err = c.appendStored(value, ic, row); err != nil {
		return nil, nil, err
	}
	suffix := ic.suffixCols
	if ic.index.Unique {
		suffix = ic.pkCols
	}
	for _, o := range suffix {
		// The suffix columns are primary key columns: encode them in the
		// primary key's directions.
		dir := rowenc.Ascending
		for j, p := range ic.pkCols {
			if p == o {
				dir = ic.pkDirs[j]
			}
		}
		if key, err = rowenc.EncodeKey(key, row[o], dir); err != nil {
			return nil, nil, err
		}
	}
	return key, value, nil
}

// appendStored appends the values of ic's stored columns of row.
func (c *tableCodec) appendStored(b []byte, ic *indexCodec, row tree.Datums) ([]byte, error) {
	var last catalog.ColumnID
	var err error
	for i, o := range ic.storeCols {
		d := row[o]
		if d == tree.DNull {
			continue
		}
		id := ic.storeIDs[i]
		if b, err = rowenc.EncodeValue(b, uint32(id-last), d); err != nil {
			return nil, err
		}
		last = id
	}
	return b, nil
}

// uniqueKey returns the key that a unique secondary index entry of row
// must not share with another row, or nil when a key column is NULL (NULLs
// never conflict).
func (c *tableCodec) uniqueKey(ic *indexCodec, row tree.Datums) ([]byte, error) {
	if hasNull(row, ic.keyCols) {
		return nil, nil
	}
	key := append([]byte(nil), ic.prefix...)
	return encodeKeyCols(key, row, ic.keyCols, ic.keyDirs)
}

func hasNull(row tree.Datums, cols []int) bool {
	for _, o := range cols {
		if row[o] == tree.DNull {
			return true
		}
	}
	return false
}

// decodePrimary fills row (len(table.Columns)) from a primary index entry.
func (c *tableCodec) decodePrimary(a *tree.DatumAlloc, key, value []byte, row tree.Datums) error {
	return c.decodePrimaryCols(a, key, value, row, c.lookup)
}

// decodePrimaryCols is decodePrimary that decodes only the value columns
// lookup places (the others stay NULL).
func (c *tableCodec) decodePrimaryCols(a *tree.DatumAlloc, key, value []byte, row tree.Datums, lookup rowenc.ColumnLookup) error {
	for i := range row {
		row[i] = tree.DNull
	}
	rest := key[len(c.primary.prefix):]
	var err error
	for i, o := range c.primary.keyCols {
		if row[o], rest, err = rowenc.DecodeKey(a, c.colTypes[o], rest, c.primary.keyDirs[i]); err != nil {
			return errors.Wrapf(err, "decoding key of table %s", c.table.Name)
		}
	}
	if err := rowenc.DecodeValue(a, value, lookup, c.colTypes, row); err != nil {
		return errors.Wrapf(err, "decoding row of table %s", c.table.Name)
	}
	return nil
}

// decodeSecondary fills row with what an entry of secondary index ic
// holds: its key columns, the primary key columns and the stored columns;
// the other columns are NULL.
func (c *tableCodec) decodeSecondary(a *tree.DatumAlloc, ic *indexCodec, key, value []byte, row tree.Datums) error {
	for i := range row {
		row[i] = tree.DNull
	}
	rest := key[len(ic.prefix):]
	var err error
	anyNull := false
	for i, o := range ic.keyCols {
		var d tree.Datum
		if d, rest, err = rowenc.DecodeKey(a, c.colTypes[o], rest, ic.keyDirs[i]); err != nil {
			return err
		}
		row[o] = d
		if d == tree.DNull {
			anyNull = true
		}
	}
	if ic.index.Unique && !anyNull {
		stored := value
		for i, o := range ic.pkCols {
			if row[o], stored, err = rowenc.DecodeKey(a, c.colTypes[o], stored, ic.pkDirs[i]); err != nil {
				return err
			}
		}
		return c.decodeStored(a, ic, stored, row)
	}
	suffix := ic.suffixCols
	if ic.index.Unique {
		suffix = ic.pkCols
	}
	for _, o := range suffix {
		dir := rowenc.Ascending
		for j, p := range ic.pkCols {
			if p == o {
				dir = ic.pkDirs[j]
			}
		}
		if row[o], rest, err = rowenc.DecodeKey(a, c.colTypes[o], rest, dir); err != nil {
			return err
		}
	}
	return c.decodeStored(a, ic, value, row)
}

// decodeStored decodes the stored columns of a secondary index entry
// (what follows the primary key in a unique entry's value, or a non-unique
// entry's whole value) into row.
func (c *tableCodec) decodeStored(a *tree.DatumAlloc, ic *indexCodec, b []byte, row tree.Datums) error {
	if len(ic.storeCols) == 0 {
		return nil
	}
	if err := rowenc.DecodeValue(a, b, c.lookup, c.colTypes, row); err != nil {
		return errors.Wrapf(err, "decoding index %s of table %s", ic.index.Name, c.table.Name)
	}
	return nil
}

// covers reports whether entries of secondary index ic hold every column
// marked in needed exactly: key and primary key columns unless composite
// (they lose their exact form in keys), and stored columns (value-encoded,
// so exact whatever their type).
func (c *tableCodec) covers(ic *indexCodec, needed []bool) bool {
	held := make([]bool, len(c.colTypes))
	for _, o := range ic.keyCols {
		held[o] = !rowenc.IsComposite(c.colTypes[o])
	}
	for _, o := range ic.pkCols {
		held[o] = !rowenc.IsComposite(c.colTypes[o])
	}
	for _, o := range ic.storeCols {
		held[o] = true
	}
	for o, n := range needed {
		if n && !held[o] {
			return false
		}
	}
	return true
}

// primaryKeyFromSecondary returns the primary key of the row an entry of
// secondary index ic points to.
func (c *tableCodec) primaryKeyFromSecondary(a *tree.DatumAlloc, ic *indexCodec, key, value []byte) ([]byte, error) {
	row := make(tree.Datums, len(c.table.Columns))
	if err := c.decodeSecondary(a, ic, key, value, row); err != nil {
		return nil, err
	}
	return c.primaryKey(nil, row)
}
