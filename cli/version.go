package cli

import "github.com/vcdb/vcdb/tenant"

// BinaryVersion is the binary's version as `vcdb version` and the start-up
// banner print it ("v25.2.0"). It derives from tenant.Binary, the one
// source of every version string, so a binary linked with
// -X github.com/vcdb/vcdb/tenant.binaryVersionOverride=25.1 says v25.1.0
// everywhere.
var BinaryVersion = tenant.BinaryString()
