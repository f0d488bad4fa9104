package cli

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// runApp runs a vcdb command line the way Main does (flag reordering, one
// "ERROR: " line per failure, exit status 1), with stdin, stdout and stderr
// of the test's choosing.
func runApp(args []string, stdin io.Reader) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	app := newApp(&out, &errOut)
	if stdin != nil {
		app.Reader = stdin
	} else {
		app.Reader = strings.NewReader("")
	}
	if err := app.Run(reorderArgs(app, args)); err != nil {
		fmt.Fprintf(&errOut, "ERROR: %v\n", err)
		code = 1
	}
	return out.String(), errOut.String(), code
}

// splitWords splits a command line into words, honouring single and double
// quotes (no escapes inside single quotes, \" inside double quotes).
func splitWords(t testing.TB, s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'' || ch == '"':
			inWord = true
			j := i + 1
			for ; j < len(s) && s[j] != ch; j++ {
				if ch == '"' && s[j] == '\\' && j+1 < len(s) {
					j++
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) {
				t.Fatalf("unterminated quote in %q", s)
			}
			i = j
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			inWord = true
			cur.WriteByte(ch)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// cliEnv is the state of one datadriven file of testdata/cli: a scratch
// directory ($DIR) and the substitutions that make output independent of it.
type cliEnv struct {
	dir string
	// vars are further substitutions ($PORT of a test server), undone in
	// output.
	vars map[string]string
	// extra directives (the sql tests add a server).
	directives map[string]func(t *testing.T, td *datadriven.TestData) string
	// run runs a command line; nil means runApp (in process). The
	// end-to-end test runs the real binary instead.
	run func(args []string, stdin io.Reader) (stdout, stderr string, code int)
}

func (e *cliEnv) expand(s string) string {
	for k, v := range e.vars {
		s = strings.ReplaceAll(s, k, v)
	}
	return strings.ReplaceAll(s, "$DIR", e.dir)
}

// normalize replaces the scratch directory by $DIR and the query-escaped
// contents of every PEM file under it by ${QE:<path>}, so expected output
// shows which file was inlined and the test still checks every byte of the
// escaping.
func (e *cliEnv) normalize(t testing.TB, s string) string {
	var pems []string
	_ = filepath.Walk(e.dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (strings.HasSuffix(p, ".crt") || strings.HasSuffix(p, ".key")) {
			pems = append(pems, p)
		}
		return nil
	})
	sort.Strings(pems)
	for _, p := range pems {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(e.dir, p)
		s = strings.ReplaceAll(s, url.QueryEscape(string(data)), "${QE:"+rel+"}")
	}
	s = strings.ReplaceAll(s, url.QueryEscape(e.dir), "$DIR")
	s = strings.ReplaceAll(s, e.dir, "$DIR")
	for k, v := range e.vars {
		s = strings.ReplaceAll(s, v, k)
	}
	return s
}

// runCLIFile runs one datadriven file. Directives:
//
//	vcdb                        the input is a command line (after "vcdb"),
//	                            optionally followed by a line "<<<" and stdin;
//	                            prints stdout, stderr and a non-zero exit code
//	now <RFC 3339 time>         sets the clock of the cert commands
//	chmod <octal mode> <path>   changes a file's mode
//	copy <from> <to>            copies a file (keeping the target's mode, 0600 when new)
//	ls <path>                   lists a directory's files with their modes
//	cat <path>                  prints the first line of a file
func runCLIFile(t *testing.T, path string, e *cliEnv) {
	defer func(old func() time.Time) { certNow = old }(certNow)
	datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
		if f, ok := e.directives[td.Cmd]; ok {
			return f(t, td)
		}
		args := make([]string, len(td.CmdArgs))
		for i, a := range td.CmdArgs {
			args[i] = e.expand(a.String())
		}
		switch td.Cmd {
		case "vcdb":
			// A line "<<<" separates the command line from its stdin.
			cmdLine, input, hasInput := strings.Cut(td.Input, "\n<<<\n")
			words := append([]string{"vcdb"}, splitWords(t, e.expand(cmdLine))...)
			var stdin io.Reader
			if hasInput {
				stdin = strings.NewReader(input + "\n")
			}
			run := e.run
			if run == nil {
				run = runApp
			}
			stdout, stderr, code := run(words, stdin)
			out := stdout + stderr
			if code != 0 {
				out += fmt.Sprintf("exit %d\n", code)
			}
			return e.normalize(t, out)
		case "now":
			ts, err := time.Parse(time.RFC3339, args[0])
			if err != nil {
				t.Fatal(err)
			}
			certNow = func() time.Time { return ts }
			return ""
		case "chmod":
			mode, err := strconv.ParseUint(args[0], 8, 32)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(args[1], os.FileMode(mode)); err != nil {
				t.Fatal(err)
			}
			return ""
		case "copy":
			data, err := os.ReadFile(args[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(args[1], data, 0o600); err != nil {
				t.Fatal(err)
			}
			return ""
		case "ls":
			entries, err := os.ReadDir(args[0])
			if err != nil {
				return "error: " + e.normalize(t, err.Error()) + "\n"
			}
			var b strings.Builder
			for _, en := range entries {
				info, err := en.Info()
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "%s %s\n", info.Mode(), en.Name())
			}
			return b.String()
		case "cat":
			data, err := os.ReadFile(args[0])
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			return first + "\n"
		default:
			t.Fatalf("unknown directive %q", td.Cmd)
			return ""
		}
	})
}

// TestCertCommands runs testdata/cli/cert: create-ca, create-node,
// create-client and list through the app, with expired certificates, wrong
// permissions and a certificate of the wrong CA.
func TestCertCommands(t *testing.T) {
	runCLIFile(t, "../testdata/cli/cert", &cliEnv{dir: t.TempDir()})
}

// TestEncodeURICommand runs testdata/cli/encode_uri: every input form and
// flag combination of `vcdb encode-uri`, exact output.
func TestEncodeURICommand(t *testing.T) {
	runCLIFile(t, "../testdata/cli/encode_uri", &cliEnv{dir: t.TempDir()})
}
