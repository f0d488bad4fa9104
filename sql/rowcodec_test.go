package sql

import (
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/vcdb/vcdb/sql/catalog"
)

// storingTable is a table (k INT PRIMARY KEY, v STRING, n INT, d DECIMAL)
// with a unique index on v and a non-unique one on n, both storing d (and
// the unique one also n); storedValues says whether the indexes carry the
// stored values (descriptors written before they did have not).
func storingTable(t *testing.T, storedValues bool) *catalog.Table {
	tbl := &catalog.Table{
		ID: 100, Name: "z", NextColumnID: 5,
		Columns: []catalog.Column{
			{ID: 1, Name: "k", TypeSQL: "INT8"},
			{ID: 2, Name: "v", TypeSQL: "STRING", Nullable: true},
			{ID: 3, Name: "n", TypeSQL: "INT8", Nullable: true},
			{ID: 4, Name: "d", TypeSQL: "DECIMAL", Nullable: true},
		},
		PrimaryIndex: catalog.Index{ID: 1, Name: "z_pkey", Unique: true,
			KeyColumnIDs: []catalog.ColumnID{1}, KeyDescending: []bool{false}},
		Indexes: []catalog.Index{
			{ID: 2, Name: "zv", Unique: true, KeyColumnIDs: []catalog.ColumnID{2}, KeyDescending: []bool{false},
				StoreColumnIDs: []catalog.ColumnID{4, 3}, StoredValues: storedValues},
			{ID: 3, Name: "zn", KeyColumnIDs: []catalog.ColumnID{3}, KeyDescending: []bool{true},
				KeySuffixColumnIDs: []catalog.ColumnID{1}, StoreColumnIDs: []catalog.ColumnID{4}, StoredValues: storedValues},
		},
	}
	if err := tbl.Finish(); err != nil {
		t.Fatal(err)
	}
	return tbl
}

// TestSecondaryStoredRoundTrip encodes rows into both secondary indexes
// and decodes them back: key, primary key and stored columns come back
// exactly (a DECIMAL keeps its scale), NULLs included, and the indexes
// cover exactly those columns.
func TestSecondaryStoredRoundTrip(t *testing.T) {
	c := newTableCodec(catalog.Keys{}, storingTable(t, true))
	dec := func(s string) tree.Datum {
		d, err := tree.ParseDDecimal(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	rows := []tree.Datums{
		{tree.NewDInt(1), tree.NewDString("a"), tree.NewDInt(10), dec("1.50")},
		{tree.NewDInt(2), tree.DNull, tree.NewDInt(20), dec("2.000")},
		{tree.NewDInt(3), tree.NewDString("c"), tree.DNull, tree.DNull},
		{tree.NewDInt(4), tree.DNull, tree.DNull, dec("-0")},
	}
	var a tree.DatumAlloc
	for _, row := range rows {
		for i := range c.secondary {
			ic := &c.secondary[i]
			key, value, err := c.secondaryEntry(ic, row)
			if err != nil {
				t.Fatal(err)
			}
			got := make(tree.Datums, len(row))
			if err := c.decodeSecondary(&a, ic, key, value, got); err != nil {
				t.Fatal(err)
			}
			for o := range row {
				want := row[o]
				if i == 1 && o == 1 {
					want = tree.DNull // zn does not hold v
				}
				if tree.AsStringWithFlags(got[o], tree.FmtSimple) != tree.AsStringWithFlags(want, tree.FmtSimple) {
					t.Errorf("index %s, row %v: column %d decoded as %v", ic.index.Name, row, o, got[o])
				}
			}
		}
	}
	// zv holds every column; zn holds k, n and d but not v.
	all := []bool{true, true, true, true}
	if !c.covers(&c.secondary[0], all) {
		t.Errorf("zv does not cover every column")
	}
	if c.covers(&c.secondary[1], all) || !c.covers(&c.secondary[1], []bool{true, false, true, true}) {
		t.Errorf("zn covers the wrong columns")
	}
}

// TestSecondaryStoredLegacy checks that an index whose descriptor lists
// STORING columns without StoredValues (entries written without them) is
// not read as covering them, and that entries written without stored
// values decode as before.
func TestSecondaryStoredLegacy(t *testing.T) {
	c := newTableCodec(catalog.Keys{}, storingTable(t, false))
	if c.covers(&c.secondary[1], []bool{true, false, true, true}) {
		t.Fatalf("an index without stored values covers its STORING column")
	}
	if !c.covers(&c.secondary[1], []bool{true, false, true, false}) {
		t.Fatalf("the index no longer covers its key and primary key")
	}
	row := tree.Datums{tree.NewDInt(1), tree.NewDString("a"), tree.NewDInt(10), tree.DNull}
	for i := range c.secondary {
		ic := &c.secondary[i]
		key, value, err := c.secondaryEntry(ic, row)
		if err != nil {
			t.Fatal(err)
		}
		if !ic.index.Unique && len(value) != 0 {
			t.Fatalf("index %s: a legacy non-unique entry has a value %x", ic.index.Name, value)
		}
		got := make(tree.Datums, len(row))
		var a tree.DatumAlloc
		if err := c.decodeSecondary(&a, ic, key, value, got); err != nil {
			t.Fatal(err)
		}
	}
}
