package kv

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// The crash test re-executes the test binary as a writer child process
// (crashChildEnv names its store directory), reads its acknowledgements from
// stdout, SIGKILLs it at a random moment and reopens the store: every
// acknowledged commit must be present, every transaction all or nothing, and
// the clock must not go back.
const crashChildEnv = "VCDB_KV_CRASH_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir, os.Getenv("VCDB_KV_CRASH_ROUND"))
		os.Exit(0)
	}
	if dir := os.Getenv(holdChildEnv); dir != "" {
		holdChild(dir)
		os.Exit(0)
	}
	code := m.Run()
	closeReadFixtures()
	os.Exit(code)
}

// crashChild writes transactions until killed. Transaction <round>-<w>-<i>
// writes three keys with its id and bumps worker w's counter to i.
func crashChild(dir, round string) {
	e, err := Open(Options{Dir: dir, GCInterval: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	var outMu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("%s-%d-%d", round, w, i)
				txn := e.Begin(TxnOptions{})
				ctr := []byte(fmt.Sprintf("ctr/%s/%d", round, w))
				if _, _, err := txn.Get(ctx, ctr); err != nil {
					os.Exit(3)
				}
				for _, s := range []string{"a", "b", "c"} {
					_ = txn.Put([]byte("c/"+id+"/"+s), []byte(id))
				}
				_ = txn.Put(ctr, []byte(strconv.Itoa(i)))
				ts, err := txn.Commit(ctx)
				if err != nil {
					fmt.Fprintln(os.Stderr, "commit:", err)
					os.Exit(4)
				}
				outMu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s %s\n", id, ts)
				outMu.Unlock()
			}
		}(w)
	}
	wg.Wait()
}

func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	acked := map[string]Timestamp{}
	var maxAck Timestamp
	for round := 0; round < 4; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, fmt.Sprintf("VCDB_KV_CRASH_ROUND=%d", round))
		stdout, err := cmd.StdoutPipe()
		must(t, err)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		must(t, cmd.Start())
		lines := make(chan string, 1<<16)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Kill after the child acknowledged something and a random delay.
		delay := time.Duration(50+rng.Intn(300)) * time.Millisecond
		timer := time.NewTimer(delay)
		n := 0
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("child exited early: %s", stderr.String())
				}
				n++
				var id, tss string
				if _, err := fmt.Sscanf(l, "ack %s %s", &id, &tss); err != nil {
					t.Fatalf("bad line %q", l)
				}
				ts, err := ParseTimestamp(tss)
				must(t, err)
				acked[id] = ts
				if maxAck.Less(ts) {
					maxAck = ts
				}
			case <-timer.C:
				if n > 0 {
					break read
				}
				timer.Reset(50 * time.Millisecond)
			}
		}
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		for l := range lines {
			// Acknowledged before the kill landed: must be present too.
			var id, tss string
			if _, err := fmt.Sscanf(l, "ack %s %s", &id, &tss); err == nil {
				ts, _ := ParseTimestamp(tss)
				acked[id] = ts
				if maxAck.Less(ts) {
					maxAck = ts
				}
			}
		}
		_ = cmd.Wait()
		checkCrashedStore(t, dir, acked, maxAck, round)
	}
	t.Logf("%d acknowledged commits over 4 crashes", len(acked))
}

func checkCrashedStore(t *testing.T, dir string, acked map[string]Timestamp, maxAck Timestamp, round int) {
	t.Helper()
	e, err := Open(Options{Dir: dir, GCInterval: -1})
	must(t, err)
	defer e.Close()
	ctx := context.Background()
	now := e.Now()
	if !maxAck.Less(now) {
		t.Fatalf("round %d: clock %v not above acknowledged %v", round, now, maxAck)
	}
	// Open waited for the wall clock to pass the mark the crash left, so
	// the clock reads the wall time, not up to the lead ahead of it.
	if after := time.Now().UnixNano(); now.WallTime > after {
		t.Fatalf("round %d: clock %v is %s ahead of the wall clock after the crash", round, now, time.Duration(now.WallTime-after))
	}
	res, err := e.Scan(ctx, sp("c/", "c0"), now, ScanOptions{})
	must(t, err)
	present := map[string]int{}
	for _, kv := range res.KVs {
		parts := strings.Split(string(kv.Key), "/")
		if parts[1] != string(kv.Value) {
			t.Fatalf("key %s has value %s", kv.Key, kv.Value)
		}
		present[parts[1]]++
	}
	for id, n := range present {
		if n != 3 {
			t.Fatalf("round %d: transaction %s is partial (%d of 3 keys)", round, id, n)
		}
	}
	for id, ts := range acked {
		if present[id] != 3 {
			t.Fatalf("round %d: acknowledged transaction %s (at %v) lost", round, id, ts)
		}
		// It is visible at exactly its commit timestamp, not below.
		if v := get(t, e, "c/"+id+"/a", ts); v != id {
			t.Fatalf("round %d: %s not visible at its timestamp", round, id)
		}
	}
}

// TestStorageFaults injects file-system errors with errorfs where Pebble
// reports them rather than exiting (a WAL write or sync failure makes Pebble
// end the process, which TestCrashRecovery covers): a failing ingest leaves
// the store unchanged and working, and a store that cannot be read fails to
// open with an error.
func TestStorageFaults(t *testing.T) {
	mem := vfs.NewMem()
	toggle := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".sst") && (op.Kind == errorfs.OpCreate || op.Kind == errorfs.OpFileWrite) {
			return errorfs.ErrInjected
		}
		return nil
	})}
	e, err := Open(Options{FS: errorfs.Wrap(mem, toggle), Dir: "db", GCInterval: -1})
	must(t, err)
	ctx := context.Background()
	ts := put(t, e, "a", "acked")
	toggle.On()
	err = e.IngestVersions(ctx, []Version{{Key: []byte("b"), Timestamp: ts, Value: []byte("x")}})
	if !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("ingest with failing file creation: %v", err)
	}
	toggle.Off()
	if got := get(t, e, "b", e.Now()); got != "<none>" {
		t.Fatalf("failed ingest left data: %q", got)
	}
	put(t, e, "c", "after")
	must(t, e.Close())

	failReads := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.Contains(op.Path, "MANIFEST") && op.Kind.ReadOrWrite() == errorfs.OpIsRead {
			return errorfs.ErrInjected
		}
		return nil
	}))
	if _, err := Open(Options{FS: failReads, Dir: "db", GCInterval: -1}); err == nil {
		t.Fatal("open with an unreadable manifest succeeded")
	}
	e, err = Open(Options{FS: mem, Dir: "db", GCInterval: -1})
	must(t, err)
	defer e.Close()
	if get(t, e, "a", e.Now()) != "acked" || get(t, e, "c", e.Now()) != "after" {
		t.Fatal("data lost")
	}
}
