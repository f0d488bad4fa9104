// Package tenant owns virtual-cluster records, key prefixes, service modes and
// the registry of running SQL services per virtual cluster. It may import kv.
//
// Key layout: every key of every VC starts with Prefix(id) (keys.go), so a VC
// is exactly one span and replicating that span replicates the VC whole.
package tenant
