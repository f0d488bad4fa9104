package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/errors"
	"golang.org/x/term"
)

// keyCtrlC is the byte a terminal in raw mode sends for Ctrl-C.
const keyCtrlC = 3

// interruptReader passes terminal input to term.Terminal, turning Ctrl-C
// into Enter and remembering it. term.Terminal would end the session on
// Ctrl-C (it returns io.EOF); a SQL shell abandons the current statement
// instead, as psql and CockroachDB's shell do.
type interruptReader struct {
	r           io.Reader
	interrupted bool
}

func (ir *interruptReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if i := strings.IndexByte(string(p[:n]), keyCtrlC); i >= 0 {
		ir.interrupted = true
		p[i] = '\r'
		// Keys typed after Ctrl-C in the same read are dropped with the line.
		n = i + 1
	}
	return n, err
}

// termLineReader reads lines from a terminal with golang.org/x/term's line
// editor: cursor keys, Home/End, Ctrl-A/E/K/U/W, and history on the up and
// down arrows. The terminal is in raw mode only while a line is read, so
// Ctrl-C during a statement is a signal that cancels it.
type termLineReader struct {
	fd      int // -1 when rw is not a real terminal (tests)
	t       *term.Terminal
	in      *interruptReader
	history *fileHistory
}

// newTermLineReader builds a line editor over in/out. fd is the terminal's
// descriptor for raw mode and window size, or -1.
func newTermLineReader(fd int, in io.Reader, out io.Writer, history *fileHistory) *termLineReader {
	ir := &interruptReader{r: in}
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{ir, out}, "")
	lr := &termLineReader{fd: fd, t: t, in: ir, history: history}
	if history != nil {
		// Lines abandoned with Ctrl-C stay out of the history.
		history.skip = func() bool { return ir.interrupted }
		t.History = history
	}
	return lr
}

func (lr *termLineReader) ReadLine(prompt string) (string, error) {
	lr.in.interrupted = false
	if lr.fd >= 0 {
		old, err := term.MakeRaw(lr.fd)
		if err != nil {
			return "", errors.Wrap(err, "setting the terminal to raw mode")
		}
		defer func() { _ = term.Restore(lr.fd, old) }()
		// A pseudo-terminal may report no size; the editor then keeps its
		// default of 80 columns.
		if w, h, err := term.GetSize(lr.fd); err == nil && w > 0 && h > 0 {
			_ = lr.t.SetSize(w, h)
		}
	}
	lr.t.SetPrompt(prompt)
	line, err := lr.t.ReadLine()
	if err == io.EOF && lr.in.interrupted {
		// Ctrl-C on an empty line: term returns EOF only for Ctrl-D.
		return "", nil
	}
	return line, err
}

func (lr *termLineReader) Interrupted() bool { return lr.in.interrupted }

// plainLineReader reads lines from any reader, echoing the prompt: the shell
// on a non-terminal input that asked for interactive mode, and tests.
type plainLineReader struct {
	r   *bufio.Reader
	out io.Writer
}

func (lr *plainLineReader) ReadLine(prompt string) (string, error) {
	fmt.Fprint(lr.out, prompt)
	line, err := lr.r.ReadString('\n')
	if err == io.EOF && line != "" {
		err = nil
	}
	if err != nil {
		return "", err
	}
	fmt.Fprintln(lr.out, strings.TrimRight(line, "\n"))
	return strings.TrimRight(line, "\r\n"), nil
}

func (lr *plainLineReader) Interrupted() bool { return false }

// historyLimit bounds the history file, as shells do.
const historyLimit = 1000

// fileHistory is term.History backed by a file (~/.vcdb_sql_history), so
// lines are recalled across sessions. Entries are single lines; a failure to
// write the file never disturbs the session.
type fileHistory struct {
	path    string
	entries []string // oldest first
	skip    func() bool
}

// historyPath is the history file of the current user, or "" for none.
func historyPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".vcdb_sql_history")
}

// loadHistory reads path (a missing file is an empty history).
func loadHistory(path string) *fileHistory {
	h := &fileHistory{path: path}
	if path == "" {
		return h
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return h
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) != "" {
			h.entries = append(h.entries, l)
		}
	}
	if len(h.entries) > historyLimit {
		h.entries = h.entries[len(h.entries)-historyLimit:]
	}
	return h
}

func (h *fileHistory) Add(entry string) {
	if strings.TrimSpace(entry) == "" || (h.skip != nil && h.skip()) {
		return
	}
	if n := len(h.entries); n > 0 && h.entries[n-1] == entry {
		return
	}
	h.entries = append(h.entries, entry)
	if len(h.entries) > historyLimit {
		h.entries = h.entries[len(h.entries)-historyLimit:]
	}
	h.save()
}

func (h *fileHistory) Len() int { return len(h.entries) }

// At follows term.History: index 0 is the newest entry.
func (h *fileHistory) At(idx int) string { return h.entries[len(h.entries)-1-idx] }

func (h *fileHistory) save() {
	if h.path == "" {
		return
	}
	// The history may hold passwords typed in statements: owner only.
	_ = os.WriteFile(h.path, []byte(strings.Join(h.entries, "\n")+"\n"), 0o600)
}
