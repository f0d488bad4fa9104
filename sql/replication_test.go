package sql

import (
	"testing"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
)

// TestCheckSourceVersion: a standby replicates a source VC at its own
// version or the release before (CONTRACT §6); anything else is 55000.
func TestCheckSourceVersion(t *testing.T) {
	for _, tc := range []struct {
		source, standby string
		ok              bool
	}{
		{"25.2", "25.2", true},
		{"25.1", "25.2", true},
		{"24.3", "25.1", true},
		{"25.4", "26.1", true},
		{"", "25.2", true},
		{"25.3", "25.2", false}, // newer than the standby
		{"26.1", "25.4", false},
		{"24.3", "25.2", false}, // two releases behind
		{"24.2", "25.1", false},
		{"garbage", "25.2", false},
	} {
		err := checkSourceVersion(tc.source, tc.standby)
		if (err == nil) != tc.ok {
			t.Errorf("source %q, standby %q: %v, want ok=%t", tc.source, tc.standby, err, tc.ok)
		}
		if err != nil && pgerror.GetPGCode(err) != pgcode.ObjectNotInPrerequisiteState {
			t.Errorf("source %q, standby %q: code %s", tc.source, tc.standby, pgerror.GetPGCode(err))
		}
	}
}

// TestMentionsReadVirtualCluster: the option is found as tokens, whatever
// the case and spacing, and never inside a string or a name.
func TestMentionsReadVirtualCluster(t *testing.T) {
	for sql, want := range map[string]bool{
		`CREATE VIRTUAL CLUSTER main FROM REPLICATION OF main ON 'u' WITH READ VIRTUAL CLUSTER`:                   true,
		`CREATE VIRTUAL CLUSTER main FROM REPLICATION OF main ON 'u' WITH RETENTION = '1h', READ VIRTUAL CLUSTER`: true,
		`create virtual cluster main from replication of main on 'u' with read   virtual
		 cluster, retention = '1h'`: true,
		`CREATE VIRTUAL CLUSTER main FROM REPLICATION OF main ON 'read virtual cluster'`:      false,
		`CREATE VIRTUAL CLUSTER main FROM REPLICATION OF main ON 'u' WITH RETENTION = '1h'`:   false,
		`CREATE VIRTUAL CLUSTER "read" FROM REPLICATION OF main ON 'u' WITH RETENTION = '1h'`: false,
		`ALTER VIRTUAL CLUSTER main SET REPLICATION RETENTION = '1h', READ VIRTUAL CLUSTER`:   true,
		`ALTER VIRTUAL CLUSTER main SET REPLICATION RETENTION = '1h'`:                         false,
	} {
		if got := mentionsReadVirtualCluster(sql); got != want {
			t.Errorf("%s: %t, want %t", sql, got, want)
		}
	}
}
