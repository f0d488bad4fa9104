// Package cli is vcdb's command line (github.com/urfave/cli/v2): start-single-node,
// sql, cert, encode-uri, workload, demo and version. It is thin: each command
// parses its flags and calls into the packages below it. Nothing imports cli.
//
// urfave/cli v2 stops parsing flags at the first positional argument, but users
// copy commands from CockroachDB's docs with flags after arguments
// (`vcdb cert create-node localhost --certs-dir=certs`). reorderArgs, in
// args.go, is the one place that moves such flags in front of the arguments;
// an unknown flag anywhere is an error, never silently ignored.
package cli
