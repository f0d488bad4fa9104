package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// TestTermLineReader drives the terminal line editor with the bytes a
// terminal sends: editing keys, history recall with the up arrow, Ctrl-C
// abandoning a line (kept out of the history), Ctrl-D ending the input, and
// the history file shared across sessions.
func TestTermLineReader(t *testing.T) {
	histPath := filepath.Join(t.TempDir(), "history")
	keys := strings.Join([]string{
		"SELECTX\x7f 1;\r", // typo fixed with backspace
		"\x1b[A\r",         // up arrow: the previous line again
		"DROP\x03",         // Ctrl-C: abandoned
		"\x1b[A\r",         // up arrow skips the abandoned line
		"B;\x01A\r",        // Ctrl-A moves to the start of the line
		"\x04",             // Ctrl-D on an empty line: end of input
	}, "")
	var screen bytes.Buffer
	lr := newTermLineReader(-1, iotest.OneByteReader(strings.NewReader(keys)), &screen, loadHistory(histPath))
	type read struct {
		line        string
		interrupted bool
	}
	var got []read
	for {
		line, err := lr.ReadLine("> ")
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, read{line, lr.Interrupted()})
	}
	want := []read{{"SELECT 1;", false}, {"SELECT 1;", false}, {"DROP", true}, {"SELECT 1;", false}, {"AB;", false}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lines %+v, want %+v", got, want)
	}
	if !strings.Contains(screen.String(), "> ") {
		t.Fatalf("no prompt shown: %q", screen.String())
	}

	// A new session sees the previous one's history, newest first.
	h := loadHistory(histPath)
	if h.Len() != 2 || h.At(0) != "AB;" || h.At(1) != "SELECT 1;" {
		t.Fatalf("history file holds %q", h.entries)
	}
	fi, err := os.Stat(histPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("history file mode %#o", fi.Mode().Perm())
	}
	for i := 0; i < historyLimit+10; i++ {
		h.Add(strings.Repeat("x", i%7+1) + string(rune('a'+i%26)))
	}
	if h.Len() != historyLimit || len(loadHistory(histPath).entries) != historyLimit {
		t.Fatalf("history not bounded: %d", h.Len())
	}
}
