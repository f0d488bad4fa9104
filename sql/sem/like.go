package sem

import (
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
)

// likeTokKind is the kind of one element of a compiled LIKE pattern.
type likeTokKind uint8

const (
	likeLiteral likeTokKind = iota // a run of literal text
	likeOne                        // _ : exactly one character
	likeAny                        // % : any run of characters
)

type likeTok struct {
	kind likeTokKind
	lit  string
}

// likePattern is a compiled LIKE pattern. Matching walks the pattern and
// the input once, remembering the last % to backtrack to, so it runs in
// O(len(input) * len(pattern)) at worst and needs no regular expression.
type likePattern struct {
	source          string
	escape          rune
	caseInsensitive bool
	toks            []likeTok
}

// likeKey identifies a compiled LIKE pattern.
type likeKey struct {
	pattern         string
	escape          rune
	caseInsensitive bool
}

// maxLikePatterns bounds the evaluator's cache of compiled LIKE patterns.
const maxLikePatterns = 16

// likeMatcher returns the compiled pattern, from the evaluator's small
// cache when the pattern was used before (the common case: constant
// patterns evaluated for every row).
func (ev *evaluator) likeMatcher(pattern string, escape rune, caseInsensitive bool) (*likePattern, error) {
	key := likeKey{pattern, escape, caseInsensitive}
	if p, ok := ev.likeCache[key]; ok {
		return p, nil
	}
	p, err := compileLike(pattern, escape, caseInsensitive)
	if err != nil {
		return nil, err
	}
	if ev.likeCache == nil || len(ev.likeCache) >= maxLikePatterns {
		ev.likeCache = make(map[likeKey]*likePattern)
	}
	ev.likeCache[key] = p
	return p, nil
}

// compileLike parses a LIKE pattern. escape 0 means no escape character.
func compileLike(pattern string, escape rune, caseInsensitive bool) (*likePattern, error) {
	p := &likePattern{source: pattern, escape: escape, caseInsensitive: caseInsensitive}
	if caseInsensitive {
		pattern = strings.ToLower(pattern)
	}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.toks = append(p.toks, likeTok{kind: likeLiteral, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pattern); {
		r, n := utf8.DecodeRuneInString(pattern[i:])
		i += n
		switch {
		case escape != 0 && r == escape:
			if i >= len(pattern) {
				return nil, pgerror.New(pgcode.InvalidEscapeSequence,
					"LIKE pattern must not end with escape character")
			}
			r2, n2 := utf8.DecodeRuneInString(pattern[i:])
			i += n2
			lit.WriteRune(r2)
		case r == '%':
			flush()
			// Consecutive %s are one.
			if len(p.toks) == 0 || p.toks[len(p.toks)-1].kind != likeAny {
				p.toks = append(p.toks, likeTok{kind: likeAny})
			}
		case r == '_':
			flush()
			p.toks = append(p.toks, likeTok{kind: likeOne})
		default:
			lit.WriteRune(r)
		}
	}
	flush()
	return p, nil
}

// match reports whether s matches the whole pattern.
func (p *likePattern) match(s string) bool {
	if p.caseInsensitive {
		s = strings.ToLower(s)
	}
	toks := p.toks
	// Fast paths for the most common shapes: 'abc', 'abc%', '%abc', '%abc%'.
	switch {
	case len(toks) == 0:
		return s == ""
	case len(toks) == 1 && toks[0].kind == likeLiteral:
		return s == toks[0].lit
	case len(toks) == 1 && toks[0].kind == likeAny:
		return true
	case len(toks) == 2 && toks[0].kind == likeLiteral && toks[1].kind == likeAny:
		return strings.HasPrefix(s, toks[0].lit)
	case len(toks) == 2 && toks[0].kind == likeAny && toks[1].kind == likeLiteral:
		return strings.HasSuffix(s, toks[1].lit)
	case len(toks) == 3 && toks[0].kind == likeAny && toks[1].kind == likeLiteral && toks[2].kind == likeAny:
		return strings.Contains(s, toks[1].lit)
	}
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			switch t.kind {
			case likeAny:
				starTi, starSi = ti, si
				ti++
				continue
			case likeOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case likeLiteral:
				if strings.HasPrefix(s[si:], t.lit) {
					si += len(t.lit)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		// Mismatch: let the last % swallow one more character and retry.
		if starTi < 0 || starSi >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		ti, si = starTi+1, starSi
	}
}

// likeEscape validates a LIKE ... ESCAPE argument: one character, or the
// empty string for no escaping.
func likeEscape(esc string) (rune, error) {
	if esc == "" {
		return 0, nil
	}
	r, n := utf8.DecodeRuneInString(esc)
	if n != len(esc) {
		return 0, pgerror.New(pgcode.InvalidEscapeCharacter, "invalid escape string")
	}
	return r, nil
}

// regexpCache caches compiled regular expressions across sessions. It is
// bounded: when full it is cleared, which is cheap and keeps the common
// case (a handful of constant patterns) fast.
var regexpCache struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}

const regexpCacheSize = 512

func cachedRegexp(key string, build func() (string, error)) (*regexp.Regexp, error) {
	regexpCache.Lock()
	re, ok := regexpCache.m[key]
	regexpCache.Unlock()
	if ok {
		return re, nil
	}
	src, err := build()
	if err != nil {
		return nil, err
	}
	re, err = regexp.Compile(src)
	if err != nil {
		return nil, pgerror.Wrap(err, pgcode.InvalidRegularExpression, "invalid regular expression")
	}
	regexpCache.Lock()
	if regexpCache.m == nil || len(regexpCache.m) >= regexpCacheSize {
		regexpCache.m = make(map[string]*regexp.Regexp)
	}
	regexpCache.m[key] = re
	regexpCache.Unlock()
	return re, nil
}

// compileRegexp compiles a POSIX-style pattern (as used by ~, ~*,
// regexp_replace, substring) with Go's RE2 engine.
func compileRegexp(pattern string, caseInsensitive bool) (*regexp.Regexp, error) {
	key := "r:" + pattern
	if caseInsensitive {
		key = "i:" + pattern
	}
	return cachedRegexp(key, func() (string, error) {
		if caseInsensitive {
			return "(?i)" + pattern, nil
		}
		return pattern, nil
	})
}

// similarRegexp translates a SIMILAR TO pattern into an anchored regular
// expression: % and _ become .* and ., the regular-expression operators
// | * + ? {} () [] keep their meaning, and everything else is literal.
func similarRegexp(pattern string, escape rune, anchored bool) (*regexp.Regexp, error) {
	key := "s:" + string(escape) + ":" + pattern
	return cachedRegexp(key, func() (string, error) {
		var b strings.Builder
		b.WriteString("^(?s:")
		inBracket := false
		quotes := 0 // escape-double-quote markers seen (substring's #" ... #")
		for i := 0; i < len(pattern); {
			r, n := utf8.DecodeRuneInString(pattern[i:])
			i += n
			if escape != 0 && r == escape {
				if i >= len(pattern) {
					return "", pgerror.New(pgcode.InvalidEscapeSequence,
						"SIMILAR TO pattern must not end with escape character")
				}
				r2, n2 := utf8.DecodeRuneInString(pattern[i:])
				i += n2
				if r2 == '"' && !inBracket {
					// The escape-quote markers delimit the part that
					// substring(... SIMILAR ...) returns: a capture group.
					if quotes == 0 {
						b.WriteString("(")
					} else {
						b.WriteString(")")
					}
					quotes++
					continue
				}
				b.WriteString(regexp.QuoteMeta(string(r2)))
				continue
			}
			if inBracket {
				if r == ']' {
					inBracket = false
				}
				if r == '\\' {
					b.WriteString(`\\`)
					continue
				}
				b.WriteRune(r)
				continue
			}
			switch r {
			case '%':
				b.WriteString(".*")
			case '_':
				b.WriteString(".")
			case '[':
				inBracket = true
				b.WriteRune(r)
			case '|', '*', '+', '?', '{', '}', '(', ')':
				b.WriteRune(r)
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		if quotes == 1 {
			b.WriteString(")")
		}
		b.WriteString(")")
		if anchored {
			b.WriteString("$")
		}
		return b.String(), nil
	})
}
