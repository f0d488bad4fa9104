package cli

import "strings"

// splitStatements cuts SQL text at the semicolons that end statements and
// returns the complete statements (each without its ';', leading comments and
// surrounding space; blank ones dropped) and the incomplete remainder after
// the last ';'.
//
// It knows just enough of the lexical grammar shared by PostgreSQL and
// CockroachDB to find those semicolons: 'strings' with doubled quotes,
// E'strings' with backslash escapes, "identifiers", $tag$dollar quotes$tag$,
// -- line comments and nested /* block comments */. A semicolon inside any of
// them does not end a statement; an unterminated one makes the rest
// incomplete (the shell then asks for another line).
func splitStatements(s string) (stmts []string, rest string) {
	start := 0
	i := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == ';':
			if st := s[start:i]; !isBlankSQL(st) {
				stmts = append(stmts, trimStatement(st))
			}
			i++
			start = i
		case c == '\'':
			backslash := i > 0 && (s[i-1] == 'e' || s[i-1] == 'E') && (i < 2 || !isIdentChar(s[i-2]))
			end, ok := skipQuoted(s, i, '\'', backslash)
			if !ok {
				return stmts, s[start:]
			}
			i = end
		case c == '"':
			end, ok := skipQuoted(s, i, '"', false)
			if !ok {
				return stmts, s[start:]
			}
			i = end
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			nl := strings.IndexByte(s[i:], '\n')
			if nl < 0 {
				i = len(s)
			} else {
				i += nl + 1
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end, ok := skipBlockComment(s, i)
			if !ok {
				return stmts, s[start:]
			}
			i = end
		case c == '$' && (i == 0 || !isIdentChar(s[i-1])):
			tag, ok := dollarTag(s, i)
			if !ok {
				i++
				continue
			}
			end := strings.Index(s[i+len(tag):], tag)
			if end < 0 {
				return stmts, s[start:]
			}
			i += len(tag) + end + len(tag)
		default:
			i++
		}
	}
	return stmts, s[start:]
}

// skipQuoted returns the index after the quote that closes the one at
// s[open]. A doubled quote is an escaped quote; with backslash, so is \'.
func skipQuoted(s string, open int, q byte, backslash bool) (int, bool) {
	for i := open + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if backslash {
				i++
			}
		case q:
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			return i + 1, true
		}
	}
	return len(s), false
}

// skipBlockComment returns the index after the comment opened at s[open];
// block comments nest, as in PostgreSQL.
func skipBlockComment(s string, open int) (int, bool) {
	depth := 0
	for i := open; i+1 < len(s); {
		switch {
		case s[i] == '/' && s[i+1] == '*':
			depth++
			i += 2
		case s[i] == '*' && s[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i, true
			}
		default:
			i++
		}
	}
	return len(s), false
}

// dollarTag returns the opening tag ($$ or $name$) at s[i], if there is one.
// A tag name starts with a letter or '_' ($1 is a placeholder, not a quote).
func dollarTag(s string, i int) (string, bool) {
	j := i + 1
	for j < len(s) && s[j] != '$' {
		c := s[j]
		if !(isIdentChar(c) && !(j == i+1 && c >= '0' && c <= '9')) {
			return "", false
		}
		j++
	}
	if j >= len(s) {
		return "", false
	}
	return s[i : j+1], true
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// trimStatement drops the white space and comments before a statement and
// the white space after it.
func trimStatement(s string) string {
	return strings.TrimSpace(s[blankPrefix(s):])
}

// isBlankSQL reports whether s holds only white space and comments (an
// unterminated block comment is not blank: more input may follow).
func isBlankSQL(s string) bool {
	return blankPrefix(s) == len(s)
}

// blankPrefix returns the length of the white space and complete comments
// that start s.
func blankPrefix(s string) int {
	i := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			nl := strings.IndexByte(s[i:], '\n')
			if nl < 0 {
				return len(s)
			}
			i += nl + 1
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end, ok := skipBlockComment(s, i)
			if !ok {
				return i
			}
			i = end
		default:
			return i
		}
	}
	return i
}
