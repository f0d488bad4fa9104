// Command vcdb is a Postgres-wire SQL database with virtual clusters and
// physical cluster replication. All behaviour lives in the cli package and
// below; this file only hands over the process arguments.
package main

import (
	"os"

	"github.com/vcdb/vcdb/cli"
)

func main() {
	os.Exit(cli.Main(os.Args))
}
