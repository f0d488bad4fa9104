//go:build tools

// Package main's tools.go pins the project's chosen dependencies in go.mod
// while the packages that use them are being written (the usual Go "tools"
// pattern; the build tag keeps it out of every build).
package main

import (
	_ "github.com/HdrHistogram/hdrhistogram-go"
	_ "github.com/cockroachdb/cockroachdb-parser/pkg/sql/parser"
	_ "github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	_ "github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	_ "github.com/cockroachdb/cockroachdb-parser/pkg/util/encoding"
	_ "github.com/cockroachdb/crlib/testutils/leaktest"
	_ "github.com/cockroachdb/datadriven"
	_ "github.com/cockroachdb/errors"
	_ "github.com/cockroachdb/pebble/v2"
	_ "github.com/cockroachdb/pebble/v2/vfs/errorfs"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/pgproto3"
	_ "github.com/urfave/cli/v2"
	_ "golang.org/x/term"
)
