package sem

import (
	"context"
	"sort"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/builtins/builtinsregistry"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/catconstants"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/volatility"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/lib/pq/oid"
)

// builtinFn is the implementation of a scalar builtin overload, stored in
// tree.Overload.Fn. args holds one datum per argument; for overloads that
// are not CalledOnNullInput none of them is NULL.
type builtinFn func(ctx context.Context, ev *evaluator, args tree.Datums) (tree.Datum, error)

// aggregateCtor builds the accumulator of an aggregate overload; it is
// stored in tree.Overload.AggregateFunc.
type aggregateCtor func(argTypes []*types.T) Aggregate

// Aggregate implements tree.AggregateOverload's marker method.
func (aggregateCtor) Aggregate() {}

// builtinDef is one function name: its properties and its overloads.
type builtinDef struct {
	props     tree.FunctionProperties
	overloads []tree.Overload
}

// builtinTables holds the definitions of each builtins_*.go file. They are
// package-level variables, so Go initializes them before init() merges and
// registers them, whatever the order of the files.
var builtinTables = []map[string]builtinDef{
	aggregateBuiltins, mathBuiltins, stringBuiltins, timeBuiltins, jsonBuiltins, systemBuiltins,
	catalogBuiltins,
}

// builtinDefs is the merged table, by name.
var builtinDefs = map[string]*builtinDef{}

// firstBuiltinOid is the first OID given to a builtin overload. Builtins
// must stay below CockroachDB's first user-defined OID (100000), and above
// PostgreSQL's predefined objects.
const firstBuiltinOid = 50000

func init() {
	for _, t := range builtinTables {
		for name, def := range t {
			if _, dup := builtinDefs[name]; dup {
				panic("duplicate builtin " + name)
			}
			d := def
			builtinDefs[name] = &d
		}
	}
	names := make([]string, 0, len(builtinDefs))
	for name := range builtinDefs {
		names = append(names, name)
	}
	sort.Strings(names)

	// The type checker resolves function names through these maps of the
	// parser module (tree.WrapFunction, ResolvableFunctionReference.Resolve);
	// CockroachDB's builtins package fills them the same way.
	if tree.FunDefs == nil {
		tree.FunDefs = map[string]*tree.FunctionDefinition{}
	}
	if tree.ResolvedBuiltinFuncDefs == nil {
		tree.ResolvedBuiltinFuncDefs = map[string]*tree.ResolvedFunctionDefinition{}
	}
	if tree.OidToBuiltinName == nil {
		tree.OidToBuiltinName = map[oid.Oid]string{}
	}
	if tree.OidToQualifiedBuiltinOverload == nil {
		tree.OidToQualifiedBuiltinOverload = map[oid.Oid]tree.QualifiedOverload{}
	}
	nextOid := oid.Oid(firstBuiltinOid)
	for _, name := range names {
		def := builtinDefs[name]
		for i := range def.overloads {
			def.overloads[i].Type = tree.BuiltinRoutine
			def.overloads[i].Oid = nextOid
			nextOid++
		}
		fd := tree.NewFunctionDefinition(name, &def.props, def.overloads)
		builtinsregistry.Register(name, &def.props, def.overloads)
		tree.FunDefs[name] = fd

		schema, short := catconstants.PgCatalogName, name
		if i := strings.IndexByte(name, '.'); i >= 0 {
			schema, short = name[:i], name[i+1:]
		}
		rfd := &tree.ResolvedFunctionDefinition{Name: short}
		for _, ol := range fd.Definition {
			q := tree.MakeQualifiedOverload(schema, ol)
			rfd.Overloads = append(rfd.Overloads, q)
			tree.OidToBuiltinName[ol.Oid] = name
			tree.OidToQualifiedBuiltinOverload[ol.Oid] = q
		}
		tree.ResolvedBuiltinFuncDefs[schema+"."+short] = rfd
	}
}

// lookupBuiltin returns the definition of a builtin by name.
func lookupBuiltin(name string) (*builtinDef, bool) {
	d, ok := builtinDefs[name]
	return d, ok
}

// Builtins lists the names of the registered builtin functions (for
// SHOW FUNCTIONS-like catalogs and tests).
func Builtins() []string {
	names := make([]string, 0, len(builtinDefs))
	for n := range builtinDefs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Helpers to declare overloads compactly.

func def(category string, overloads ...tree.Overload) builtinDef {
	return builtinDef{props: tree.FunctionProperties{Category: category}, overloads: overloads}
}

func params(ts ...*types.T) tree.ParamTypes {
	p := make(tree.ParamTypes, len(ts))
	for i, t := range ts {
		p[i] = tree.ParamType{Name: argName(i), Typ: t}
	}
	return p
}

func argName(i int) string {
	return string(rune('a' + i))
}

// overload is an immutable scalar overload with a fixed return type.
func overload(ps tree.TypeList, ret *types.T, fn builtinFn) tree.Overload {
	return tree.Overload{
		Types:      ps,
		ReturnType: tree.FixedReturnType(ret),
		Volatility: volatility.Immutable,
		Fn:         fn,
		Class:      tree.NormalClass,
	}
}

// withVolatility sets an overload's volatility (stable for functions that
// read the session, volatile for random() and the clock).
func withVolatility(o tree.Overload, v volatility.V) tree.Overload {
	o.Volatility = v
	return o
}

// calledOnNull marks an overload that receives NULL arguments instead of
// being short-circuited to NULL.
func calledOnNull(o tree.Overload) tree.Overload {
	o.CalledOnNullInput = true
	return o
}

// withReturnTyper gives an overload a return type computed from its
// arguments.
func withReturnTyper(o tree.Overload, rt tree.ReturnTyper) tree.Overload {
	o.ReturnType = rt
	return o
}

func preferred(o tree.Overload) tree.Overload {
	o.OverloadPreference = tree.OverloadPreferencePreferred
	return o
}
