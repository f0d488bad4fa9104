// Package sem type-checks and evaluates scalar SQL expressions for vcdb.
//
// The parser module (github.com/cockroachdb/cockroachdb-parser) supplies the
// AST, the datums, the type checker and the operator overload tables, but
// none of the evaluation: tree.ExprEvaluator and tree.OpEvaluator are
// interfaces, and the builtin function registry is empty. This package
// fills both gaps:
//
//   - typecheck.go wraps the parser module's type checker (TypeCheck,
//     TypeCheckAndRequire, NewSemaContext);
//   - the evaluator (context.go, eval.go, compare.go, like.go, ops_*.go)
//     implements tree.ExprEvaluator, tree.OpEvaluator, tree.CompareContext
//     and tree.ParseContext on top of a session's Context;
//   - cast.go performs explicit and assignment casts for every pair that the
//     parser module's cast map allows between the types vcdb supports;
//   - builtins*.go register the builtin functions and aggregates at init
//     time, in the parser module's registry (builtinsregistry) and in
//     tree.FunDefs / tree.ResolvedBuiltinFuncDefs, which is where the type
//     checker resolves function names (including the names the grammar
//     itself produces, such as btrim for TRIM(...) and strpos for
//     POSITION(...)); datetime_format.go holds the to_char/to_timestamp
//     templates;
//   - aggregates.go implements the aggregate functions as accumulators that
//     the executor feeds row by row;
//   - asof.go evaluates AS OF SYSTEM TIME clauses to HLC timestamps.
//
// Semantics are CockroachDB's where it differs from PostgreSQL: INT / INT
// is DECIMAL (20 significant digits), // truncates, mixing INT and FLOAT in
// an operator needs a cast, extract() returns FLOAT, FLOAT overflow gives
// Infinity, NaN sorts first.
//
// Hot path: evaluating a filter such as a = $1 allocates nothing (the
// evaluator lives in the Context; builtin arguments use a stack in it; a
// constant IN list is built once and searched through a sorted index).
//
// Invariants:
//
//   - Evaluation follows SQL three-valued logic: operators and functions
//     that are not "called on NULL input" return NULL as soon as one
//     argument is NULL, without running their implementation.
//   - User-facing errors carry the SQLSTATE that PostgreSQL/CockroachDB
//     report (22012 division by zero, 22003 out of range, 22P02 invalid
//     input syntax, 22001 string too long, 42883 unknown function, ...).
//   - A panic while type-checking or evaluating (a bug) never escapes the
//     package: the public entry points turn it into an internal error
//     (SQLSTATE XX000), so one bad expression cannot take a server down.
//
// Goroutines: the package starts none. A Context carries scratch state for
// evaluation and must be used by one goroutine at a time (a session runs
// its statements one after another); the builtin registry is written only
// during init and read-only afterwards.
//
// Imports: only the parser module (and its apd, errors and pq
// dependencies) and the standard library; no project package (package sql
// owns this one and sits above kv, tenant and replication).
package sem
