package sem

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
)

// maxStringResult bounds the strings repeat, lpad and rpad build, so that
// a careless query cannot exhaust memory (CockroachDB uses the same limit).
const maxStringResult = 64 << 20

var errStringTooLong = pgerror.New(pgcode.ProgramLimitExceeded, "requested length too large")

func str(s string) tree.Datum { return tree.NewDString(s) }

func stringFn(f func(string) string) builtinFn {
	return func(_ context.Context, _ *evaluator, args tree.Datums) (tree.Datum, error) {
		return str(f(stringOf(args[0]))), nil
	}
}

func bytesOf(d tree.Datum) string { return string(*d.(*tree.DBytes)) }

func newBytes(s string) tree.Datum { return tree.NewDBytes(tree.DBytes(s)) }

func trimFn(trim func(s, cutset string) string, space func(string, func(rune) bool) string) []tree.Overload {
	isSpace := func(r rune) bool { return r == ' ' }
	return []tree.Overload{
		overload(params(types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return str(space(stringOf(a[0]), isSpace)), nil
		}),
		overload(params(types.String, types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return str(trim(stringOf(a[0]), stringOf(a[1]))), nil
		}),
	}
}

func intArg(d tree.Datum) int64 { return int64(tree.MustBeDInt(d)) }

// substringBounds is PostgreSQL's substring(x FROM start FOR length) on a
// value of n characters (or bytes): start may lie before the value, and
// the result is what is left of [start, start+length) inside it, as a
// half-open range of 0-based positions.
func substringBounds(n, start, length int64, hasLength bool) (begin, end int64, _ error) {
	if hasLength && length < 0 {
		return 0, 0, pgerror.New(pgcode.Substring, "negative substring length not allowed")
	}
	begin, end = start-1, n
	if hasLength {
		end = begin + length
		if length > 0 && end < begin { // overflow
			end = n
		}
	}
	begin, end = max(begin, 0), min(end, n)
	if begin >= end {
		return 0, 0, nil
	}
	return begin, end, nil
}

func substringRunes(s string, start, length int64, hasLength bool) (string, error) {
	runes := []rune(s)
	begin, end, err := substringBounds(int64(len(runes)), start, length, hasLength)
	return string(runes[begin:end]), err
}

func substringBytes(s string, start, length int64, hasLength bool) (string, error) {
	begin, end, err := substringBounds(int64(len(s)), start, length, hasLength)
	return s[begin:end], err
}

// padString is lpad/rpad: s cut or padded with fill to length characters.
func padString(s string, length int64, fill string, left bool) (string, error) {
	if length <= 0 {
		return "", nil
	}
	n := int64(utf8.RuneCountInString(s))
	if n >= length {
		return truncateRunes(s, int(length)), nil
	}
	if fill == "" {
		return s, nil
	}
	missing := length - n
	if missing > maxStringResult/int64(len(fill)) {
		return "", errStringTooLong
	}
	var b strings.Builder
	b.Grow(len(s) + int(missing)*len(fill)/max(utf8.RuneCountInString(fill), 1) + utf8.UTFMax)
	if !left {
		b.WriteString(s)
	}
	for written := int64(0); written < missing; {
		for _, r := range fill {
			if written == missing {
				break
			}
			b.WriteRune(r)
			written++
		}
	}
	if left {
		b.WriteString(s)
	}
	return b.String(), nil
}

// leftRight is left()/right(): n < 0 means all but |n| characters.
func leftRight(s string, n int64, fromLeft bool) string {
	runes := []rune(s)
	l := int64(len(runes))
	if n < 0 {
		n = max(l+n, 0)
	}
	n = min(n, l)
	if fromLeft {
		return string(runes[:n])
	}
	return string(runes[l-n:])
}

func initcap(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	inWord := false
	for _, r := range s {
		alnum := unicode.IsLetter(r) || unicode.IsDigit(r)
		if alnum && !inWord {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		inWord = alnum
	}
	return b.String()
}

func splitPart(s, delim string, n int64) (string, error) {
	if n == 0 {
		return "", pgerror.New(pgcode.InvalidParameterValue, "field position must not be zero")
	}
	var parts []string
	if delim == "" {
		parts = []string{s}
	} else {
		parts = strings.Split(s, delim)
	}
	if n < 0 {
		n = int64(len(parts)) + n + 1
		if n < 1 {
			return "", nil
		}
	}
	if n > int64(len(parts)) {
		return "", nil
	}
	return parts[n-1], nil
}

// encodeBytes implements encode(bytes, format).
func encodeBytes(data, format string) (string, error) {
	switch strings.ToLower(format) {
	case "hex":
		return hex.EncodeToString([]byte(data)), nil
	case "base64":
		return base64.StdEncoding.EncodeToString([]byte(data)), nil
	case "escape":
		var b strings.Builder
		for i := 0; i < len(data); i++ {
			c := data[i]
			switch {
			case c == '\\':
				b.WriteString(`\\`)
			case c < 0x20 || c >= 0x7f:
				fmt.Fprintf(&b, `\%03o`, c)
			default:
				b.WriteByte(c)
			}
		}
		return b.String(), nil
	}
	return "", pgerror.New(pgcode.InvalidParameterValue,
		"only 'hex', 'escape', and 'base64' formats are supported for encode()")
}

// decodeBytes implements decode(text, format).
func decodeBytes(s, format string) (string, error) {
	switch strings.ToLower(format) {
	case "hex":
		b, err := hex.DecodeString(s)
		if err != nil {
			return "", pgerror.Wrap(err, pgcode.InvalidParameterValue, "invalid hexadecimal digit")
		}
		return string(b), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s))
		if err != nil {
			return "", pgerror.Wrap(err, pgcode.InvalidParameterValue, "invalid base64 input")
		}
		return string(b), nil
	case "escape":
		var b []byte
		for i := 0; i < len(s); i++ {
			if s[i] != '\\' {
				b = append(b, s[i])
				continue
			}
			if i+1 < len(s) && s[i+1] == '\\' {
				b = append(b, '\\')
				i++
				continue
			}
			if i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
				v, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
				b = append(b, byte(v))
				i += 3
				continue
			}
			return "", pgerror.New(pgcode.InvalidParameterValue, "invalid input syntax for type bytea")
		}
		return string(b), nil
	}
	return "", pgerror.New(pgcode.InvalidParameterValue,
		"only 'hex', 'escape', and 'base64' formats are supported for decode()")
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// regexpReplace is PostgreSQL's regexp_replace(source, pattern, replacement
// [, flags]): \1..\9 and \& in the replacement refer to the match; only the
// first match is replaced unless flags contain g.
func regexpReplace(s, pattern, repl, flags string) (string, error) {
	global, icase := false, false
	for _, f := range flags {
		switch f {
		case 'g':
			global = true
		case 'i':
			icase = true
		case 'c':
			icase = false
		default:
			return "", pgerror.Newf(pgcode.InvalidRegularExpression, "invalid regexp flag: %q", f)
		}
	}
	re, err := compileRegexp(pattern, icase)
	if err != nil {
		return "", err
	}
	expand := func(match []int) string {
		var b strings.Builder
		for i := 0; i < len(repl); i++ {
			c := repl[i]
			if c != '\\' || i+1 == len(repl) {
				b.WriteByte(c)
				continue
			}
			next := repl[i+1]
			switch {
			case next >= '1' && next <= '9':
				g := int(next - '0')
				if 2*g+1 < len(match) && match[2*g] >= 0 {
					b.WriteString(s[match[2*g]:match[2*g+1]])
				}
				i++
			case next == '&':
				b.WriteString(s[match[0]:match[1]])
				i++
			case next == '\\':
				b.WriteByte('\\')
				i++
			default:
				b.WriteByte(c)
			}
		}
		return b.String()
	}
	limit := 1
	if global {
		limit = -1
	}
	matches := re.FindAllStringSubmatchIndex(s, limit)
	if len(matches) == 0 {
		return s, nil
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m[0]])
		b.WriteString(expand(m))
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

func translate(s, from, to string) string {
	fromR, toR := []rune(from), []rune(to)
	var b strings.Builder
	for _, r := range s {
		idx := -1
		for i, f := range fromR {
			if f == r {
				idx = i
				break
			}
		}
		switch {
		case idx < 0:
			b.WriteRune(r)
		case idx < len(toR):
			b.WriteRune(toR[idx])
		}
	}
	return b.String()
}

func toHexInt(i int64) string { return strconv.FormatUint(uint64(i), 16) }

func likeEscapeFn(caseInsensitive, negate bool) builtinFn {
	return func(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
		esc, err := likeEscape(stringOf(a[2]))
		if err != nil {
			return nil, err
		}
		m, err := ev.likeMatcher(stringOf(a[1]), esc, caseInsensitive)
		if err != nil {
			return nil, err
		}
		return tree.MakeDBool(tree.DBool(m.match(stringOf(a[0])) != negate)), nil
	}
}

func similarEscapeFn(negate bool) builtinFn {
	return func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		esc, err := likeEscape(stringOf(a[2]))
		if err != nil {
			return nil, err
		}
		re, err := similarRegexp(stringOf(a[1]), esc, true)
		if err != nil {
			return nil, err
		}
		return tree.MakeDBool(tree.DBool(re.MatchString(stringOf(a[0])) != negate)), nil
	}
}

var stringLength = []tree.Overload{
	overload(params(types.String), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		return newInt(int64(utf8.RuneCountInString(stringOf(a[0])))), nil
	}),
	overload(params(types.Bytes), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		return newInt(int64(len(bytesOf(a[0])))), nil
	}),
}

var substringOverloads = []tree.Overload{
	overload(params(types.String, types.Int), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		s, err := substringRunes(stringOf(a[0]), intArg(a[1]), 0, false)
		return str(s), err
	}),
	overload(params(types.String, types.Int, types.Int), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		s, err := substringRunes(stringOf(a[0]), intArg(a[1]), intArg(a[2]), true)
		if err != nil {
			return nil, err
		}
		return str(s), nil
	}),
	overload(params(types.String, types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		// substring(s FROM 'regex'): the first parenthesized group if there
		// is one, else the whole match; NULL without a match.
		re, err := compileRegexp(stringOf(a[1]), false)
		if err != nil {
			return nil, err
		}
		s := stringOf(a[0])
		m := re.FindStringSubmatchIndex(s)
		if m == nil {
			return tree.DNull, nil
		}
		if len(m) > 2 {
			if m[2] < 0 {
				return tree.DNull, nil
			}
			return str(s[m[2]:m[3]]), nil
		}
		return str(s[m[0]:m[1]]), nil
	}),
	overload(params(types.String, types.String, types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		// substring(s SIMILAR 'pattern' ESCAPE 'e').
		esc, err := likeEscape(stringOf(a[2]))
		if err != nil {
			return nil, err
		}
		re, err := similarRegexp(stringOf(a[1]), esc, true)
		if err != nil {
			return nil, err
		}
		s := stringOf(a[0])
		m := re.FindStringSubmatchIndex(s)
		if m == nil {
			return tree.DNull, nil
		}
		if len(m) > 2 && m[2] >= 0 {
			// The pattern marked the part to return with escape-quotes.
			return str(s[m[2]:m[3]]), nil
		}
		return str(s[m[0]:m[1]]), nil
	}),
	overload(params(types.Bytes, types.Int), types.Bytes, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		s, err := substringBytes(bytesOf(a[0]), intArg(a[1]), 0, false)
		return newBytes(s), err
	}),
	overload(params(types.Bytes, types.Int, types.Int), types.Bytes, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
		s, err := substringBytes(bytesOf(a[0]), intArg(a[1]), intArg(a[2]), true)
		if err != nil {
			return nil, err
		}
		return newBytes(s), nil
	}),
}

func concatFn(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
	var b strings.Builder
	for _, d := range a {
		if d == tree.DNull {
			continue
		}
		s, err := ev.toText(context.Background(), d)
		if err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	return str(b.String()), nil
}

func concatWSFn(_ context.Context, ev *evaluator, a tree.Datums) (tree.Datum, error) {
	if a[0] == tree.DNull {
		return tree.DNull, nil
	}
	sep := stringOf(a[0])
	var b strings.Builder
	first := true
	for _, d := range a[1:] {
		if d == tree.DNull {
			continue
		}
		if !first {
			b.WriteString(sep)
		}
		first = false
		s, err := ev.toText(context.Background(), d)
		if err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	return str(b.String()), nil
}

func padOverloads(left bool) []tree.Overload {
	return []tree.Overload{
		overload(params(types.String, types.Int), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			s, err := padString(stringOf(a[0]), intArg(a[1]), " ", left)
			if err != nil {
				return nil, err
			}
			return str(s), nil
		}),
		overload(params(types.String, types.Int, types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			s, err := padString(stringOf(a[0]), intArg(a[1]), stringOf(a[2]), left)
			if err != nil {
				return nil, err
			}
			return str(s), nil
		}),
	}
}

func leftRightOverloads(fromLeft bool) []tree.Overload {
	return []tree.Overload{
		overload(params(types.String, types.Int), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return str(leftRight(stringOf(a[0]), intArg(a[1]), fromLeft)), nil
		}),
		overload(params(types.Bytes, types.Int), types.Bytes, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			b := bytesOf(a[0])
			n := intArg(a[1])
			l := int64(len(b))
			if n < 0 {
				n = max(l+n, 0)
			}
			n = min(n, l)
			if fromLeft {
				return newBytes(b[:n]), nil
			}
			return newBytes(b[l-n:]), nil
		}),
	}
}

func hashOverloads(hash func([]byte) string) []tree.Overload {
	return []tree.Overload{
		overload(params(types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return str(hash([]byte(stringOf(a[0])))), nil
		}),
		overload(params(types.Bytes), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return str(hash([]byte(bytesOf(a[0])))), nil
		}),
	}
}

var stringBuiltins = map[string]builtinDef{
	"length":           def("string", stringLength...),
	"char_length":      def("string", stringLength[0]),
	"character_length": def("string", stringLength[0]),
	"octet_length": def("string",
		overload(params(types.String), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return newInt(int64(len(stringOf(a[0])))), nil
		}),
		overload(params(types.Bytes), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return newInt(int64(len(bytesOf(a[0])))), nil
		})),
	"bit_length": def("string",
		overload(params(types.String), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return newInt(8 * int64(len(stringOf(a[0])))), nil
		}),
		overload(params(types.Bytes), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return newInt(8 * int64(len(bytesOf(a[0])))), nil
		})),
	"lower":   def("string", overload(params(types.String), types.String, stringFn(strings.ToLower))),
	"upper":   def("string", overload(params(types.String), types.String, stringFn(strings.ToUpper))),
	"initcap": def("string", overload(params(types.String), types.String, stringFn(initcap))),
	"reverse": def("string", overload(params(types.String), types.String, stringFn(func(s string) string {
		r := []rune(s)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r)
	}))),
	"btrim":     def("string", trimFn(strings.Trim, strings.TrimFunc)...),
	"ltrim":     def("string", trimFn(strings.TrimLeft, strings.TrimLeftFunc)...),
	"rtrim":     def("string", trimFn(strings.TrimRight, strings.TrimRightFunc)...),
	"substring": def("string", substringOverloads...),
	"substr":    def("string", substringOverloads[0], substringOverloads[1], substringOverloads[4], substringOverloads[5]),
	"strpos": def("string",
		overload(params(types.String, types.String), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			s := stringOf(a[0])
			i := strings.Index(s, stringOf(a[1]))
			if i < 0 {
				return newInt(0), nil
			}
			return newInt(int64(utf8.RuneCountInString(s[:i])) + 1), nil
		}),
		overload(params(types.Bytes, types.Bytes), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return newInt(int64(strings.Index(bytesOf(a[0]), bytesOf(a[1]))) + 1), nil
		})),
	"replace": def("string",
		overload(params(types.String, types.String, types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			from := stringOf(a[1])
			if from == "" {
				return a[0], nil
			}
			return str(strings.ReplaceAll(stringOf(a[0]), from, stringOf(a[2]))), nil
		})),
	"translate": def("string",
		overload(params(types.String, types.String, types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return str(translate(stringOf(a[0]), stringOf(a[1]), stringOf(a[2]))), nil
		})),
	"concat": def("string", calledOnNull(withVolatility(
		overload(tree.VariadicType{VarType: types.AnyElement}, types.String, concatFn), 2))),
	"concat_ws": def("string", calledOnNull(
		overload(tree.VariadicType{FixedTypes: []*types.T{types.String}, VarType: types.AnyElement}, types.String, concatWSFn))),
	"left":  def("string", leftRightOverloads(true)...),
	"right": def("string", leftRightOverloads(false)...),
	"repeat": def("string",
		overload(params(types.String, types.Int), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			s, n := stringOf(a[0]), intArg(a[1])
			if n <= 0 || s == "" {
				return str(""), nil
			}
			if n > maxStringResult/int64(len(s)) {
				return nil, errStringTooLong
			}
			return str(strings.Repeat(s, int(n))), nil
		})),
	"lpad": def("string", padOverloads(true)...),
	"rpad": def("string", padOverloads(false)...),
	"split_part": def("string",
		overload(params(types.String, types.String, types.Int), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			s, err := splitPart(stringOf(a[0]), stringOf(a[1]), intArg(a[2]))
			if err != nil {
				return nil, err
			}
			return str(s), nil
		})),
	"starts_with": def("string",
		overload(params(types.String, types.String), types.Bool, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return tree.MakeDBool(tree.DBool(strings.HasPrefix(stringOf(a[0]), stringOf(a[1])))), nil
		})),
	"md5": def("string", hashOverloads(func(b []byte) string {
		h := md5.Sum(b)
		return hex.EncodeToString(h[:])
	})...),
	"sha256": def("string", hashOverloads(func(b []byte) string {
		h := sha256.Sum256(b)
		return hex.EncodeToString(h[:])
	})...),
	"to_hex": def("string",
		overload(params(types.Int), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return str(toHexInt(intArg(a[0]))), nil
		}),
		overload(params(types.Bytes), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return str(hex.EncodeToString([]byte(bytesOf(a[0])))), nil
		}),
		overload(params(types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return str(hex.EncodeToString([]byte(stringOf(a[0])))), nil
		})),
	"encode": def("string",
		overload(params(types.Bytes, types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			s, err := encodeBytes(bytesOf(a[0]), stringOf(a[1]))
			if err != nil {
				return nil, err
			}
			return str(s), nil
		})),
	"decode": def("string",
		overload(params(types.String, types.String), types.Bytes, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			s, err := decodeBytes(stringOf(a[0]), stringOf(a[1]))
			if err != nil {
				return nil, err
			}
			return newBytes(s), nil
		})),
	"regexp_replace": def("string",
		overload(params(types.String, types.String, types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			s, err := regexpReplace(stringOf(a[0]), stringOf(a[1]), stringOf(a[2]), "")
			if err != nil {
				return nil, err
			}
			return str(s), nil
		}),
		overload(params(types.String, types.String, types.String, types.String), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			s, err := regexpReplace(stringOf(a[0]), stringOf(a[1]), stringOf(a[2]), stringOf(a[3]))
			if err != nil {
				return nil, err
			}
			return str(s), nil
		})),
	"ascii": def("string",
		overload(params(types.String), types.Int, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			s := stringOf(a[0])
			if s == "" {
				return newInt(0), nil
			}
			r, _ := utf8.DecodeRuneInString(s)
			return newInt(int64(r)), nil
		})),
	"chr": def("string",
		overload(params(types.Int), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			c := intArg(a[0])
			switch {
			case c == 0:
				return nil, pgerror.New(pgcode.ProgramLimitExceeded, "null character not permitted")
			case c < 0:
				return nil, pgerror.New(pgcode.ProgramLimitExceeded, "character number must be positive")
			case c > unicode.MaxRune || (c >= 0xD800 && c <= 0xDFFF):
				return nil, pgerror.New(pgcode.ProgramLimitExceeded, "requested character too large for encoding")
			}
			return str(string(rune(c))), nil
		})),
	"overlay": def("string",
		overload(params(types.String, types.String, types.Int), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			repl := stringOf(a[1])
			return overlay(stringOf(a[0]), repl, intArg(a[2]), int64(utf8.RuneCountInString(repl)))
		}),
		overload(params(types.String, types.String, types.Int, types.Int), types.String, func(_ context.Context, _ *evaluator, a tree.Datums) (tree.Datum, error) {
			return overlay(stringOf(a[0]), stringOf(a[1]), intArg(a[2]), intArg(a[3]))
		})),
	"quote_ident": def("string", overload(params(types.String), types.String, stringFn(func(s string) string {
		n := tree.Name(s)
		return tree.AsStringWithFlags(&n, tree.FmtSimple)
	}))),
	"quote_literal":         def("string", overload(params(types.String), types.String, stringFn(quoteLiteral))),
	"like_escape":           def("string", overload(params(types.String, types.String, types.String), types.Bool, likeEscapeFn(false, false))),
	"not_like_escape":       def("string", overload(params(types.String, types.String, types.String), types.Bool, likeEscapeFn(false, true))),
	"ilike_escape":          def("string", overload(params(types.String, types.String, types.String), types.Bool, likeEscapeFn(true, false))),
	"not_ilike_escape":      def("string", overload(params(types.String, types.String, types.String), types.Bool, likeEscapeFn(true, true))),
	"similar_to_escape":     def("string", overload(params(types.String, types.String, types.String), types.Bool, similarEscapeFn(false))),
	"not_similar_to_escape": def("string", overload(params(types.String, types.String, types.String), types.Bool, similarEscapeFn(true))),
}

// overlay is overlay(s PLACING repl FROM start FOR n).
func overlay(s, repl string, start, n int64) (tree.Datum, error) {
	if start < 1 {
		return nil, pgerror.Newf(pgcode.Substring, "negative substring length not allowed")
	}
	runes := []rune(s)
	l := int64(len(runes))
	begin := min(start-1, l)
	end := min(max(begin+n, begin), l)
	return str(string(runes[:begin]) + repl + string(runes[end:])), nil
}

func quoteLiteral(s string) string {
	var b strings.Builder
	if strings.ContainsRune(s, '\\') {
		b.WriteByte('E')
	}
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
