package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// allowedImports is STYLE.md's dependency table: for each top-level package,
// the project packages it may import. Dependencies point down, never up.
var allowedImports = map[string][]string{
	"kv":          {},
	"certs":       {},
	"tenant":      {"kv"},
	"replication": {"kv", "tenant"},
	"sql":         {"kv", "tenant", "replication"},
	"server":      {"sql", "tenant", "certs", "kv"},
	"workload":    {"certs"},
}

// TestDependencyDirection runs `go list` over the module and fails when a
// package imports a project package above it (or any package not in the table
// imports cli).
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/vcdb/vcdb"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		top := topLevel(strings.TrimPrefix(p.ImportPath, module))
		if top == "" || top == "cli" {
			continue // main and cli may import anything.
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := topLevel(strings.TrimPrefix(imp, module))
			if dep == top {
				continue
			}
			if dep == "cli" {
				t.Errorf("%s imports %s: nothing may import cli", p.ImportPath, imp)
				continue
			}
			allowed, known := allowedImports[top]
			if !known {
				t.Errorf("%s is not in the dependency table: add it to allowedImports and STYLE.md's reasoning to its doc.go", p.ImportPath)
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || a == dep
			}
			if !ok {
				t.Errorf("%s imports %s: %s may import only %v", p.ImportPath, imp, top, allowed)
			}
		}
	}
}

func topLevel(rel string) string {
	rel = strings.TrimPrefix(rel, "/")
	if i := strings.IndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return rel
}
