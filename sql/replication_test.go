package sql

import (
	"testing"
)

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
