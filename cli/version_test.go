package cli

import (
	"bytes"
	"testing"

	"github.com/vcdb/vcdb/tenant"
)

// TestVersionCommand: `vcdb version` prints the binary's release and the
// two cluster versions it runs, all derived from tenant.Binary.
func TestVersionCommand(t *testing.T) {
	for _, tc := range []struct {
		as   tenant.Version
		want string
	}{
		{tenant.Binary(), "vcdb v25.2.0\ncluster versions: 25.1, 25.2\n"},
		{tenant.Version{Year: 25, Release: 1}, "vcdb v25.1.0\ncluster versions: 24.3, 25.1\n"},
	} {
		restore := tenant.TestingSetBinaryVersion(tc.as)
		var out, errOut bytes.Buffer
		err := newApp(&out, &errOut).Run([]string{"vcdb", "version"})
		restore()
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("as %s: got %q, want %q", tc.as, out.String(), tc.want)
		}
	}
	if BinaryVersion != tenant.BinaryString() {
		t.Errorf("BinaryVersion %q, tenant says %q", BinaryVersion, tenant.BinaryString())
	}
}
