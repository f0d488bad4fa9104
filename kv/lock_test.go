package kv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
	"github.com/cockroachdb/errors"
)

// holdChildEnv names the store a child process (the test binary, see
// TestMain) opens and holds until its stdin is closed.
const holdChildEnv = "VCDB_KV_HOLD_CHILD_DIR"

func holdChild(dir string) {
	e, err := Open(Options{Dir: dir, GCInterval: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	_ = e.Close()
}

// TestStoreInUse: opening a store another process holds fails with
// ErrStoreInUse, naming the store, the lock file and the holder's pid
// (rather than "resource temporarily unavailable"); so does a second open
// in the same process. Once the holder is gone the store opens.
func TestStoreInUse(t *testing.T) {
	defer leaktest.AfterTest(t)()
	dir := t.TempDir()
	lockPath := filepath.Join(dir, storeLockFile)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdChildEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if strings.TrimSpace(line) != "ready" {
			t.Fatalf("child: %q %s", line, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the child did not open the store")
	}

	_, err = Open(Options{Dir: dir, GCInterval: -1})
	if !errors.Is(err, ErrStoreInUse) {
		t.Fatalf("open of a store held by another process: %v", err)
	}
	want := fmt.Sprintf("store %s is in use by another vcdb process (lock file %s, held by pid %d)", dir, lockPath, cmd.Process.Pid)
	if err.Error() != want {
		t.Fatalf("error:\n%s\nwant:\n%s", err, want)
	}

	// The holder exits: the store opens, and a second open in this
	// process is refused while the first is open.
	must(t, stdin.Close())
	must(t, cmd.Wait())
	exited = true
	e, err := Open(Options{Dir: dir, GCInterval: -1})
	must(t, err)
	_, err = Open(Options{Dir: dir, GCInterval: -1})
	if !errors.Is(err, ErrStoreInUse) || !strings.Contains(err.Error(), "already open in this process (lock file "+lockPath+")") {
		t.Fatalf("second open in the same process: %v", err)
	}
	must(t, e.Close())
	e, err = Open(Options{Dir: dir, GCInterval: -1})
	must(t, err)
	must(t, e.Close())
}

// TestStoreLockFileUnusable: a lock file that cannot be opened (here a
// directory in its place) is reported as such, not as ErrStoreInUse.
func TestStoreLockFileUnusable(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, storeLockFile), 0755))
	_, err := Open(Options{Dir: dir, GCInterval: -1})
	if err == nil || errors.Is(err, ErrStoreInUse) || !strings.Contains(err.Error(), "kv: locking store") {
		t.Fatalf("open with an unusable lock file: %v", err)
	}
}
