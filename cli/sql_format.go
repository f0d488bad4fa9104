package cli

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/errors"
)

// Output formats of `vcdb sql --format` (CockroachDB's names).
const (
	formatTable = "table"
	formatCSV   = "csv"
	formatTSV   = "tsv"
)

// resultSet is one statement's rows as text, ready to print. A nil cell is
// SQL NULL.
type resultSet struct {
	columns []string
	// rightAlign marks numeric columns, which the table format aligns right
	// as CockroachDB and psql do.
	rightAlign []bool
	rows       [][]*string
}

// nullText is how every format shows SQL NULL (CockroachDB prints NULL in
// table, csv and tsv alike).
const nullText = "NULL"

func cellText(c *string) string {
	if c == nil {
		return nullText
	}
	return *c
}

// writeResult prints rs in the given format.
func writeResult(w io.Writer, format string, rs *resultSet) error {
	switch format {
	case formatTable:
		rows := make([][]string, len(rs.rows))
		for i, r := range rs.rows {
			rows[i] = make([]string, len(r))
			for j, c := range r {
				rows[i][j] = cellText(c)
			}
		}
		writeTable(w, rs.columns, rows, rs.rightAlign)
		fmt.Fprintln(w, rowCount(len(rs.rows)))
		return nil
	case formatCSV, formatTSV:
		cw := csv.NewWriter(w)
		if format == formatTSV {
			cw.Comma = '\t'
		}
		if err := cw.Write(rs.columns); err != nil {
			return errors.Wrap(err, "writing output")
		}
		rec := make([]string, len(rs.columns))
		for _, r := range rs.rows {
			for j, c := range r {
				rec[j] = cellText(c)
			}
			if err := cw.Write(rec); err != nil {
				return errors.Wrap(err, "writing output")
			}
		}
		cw.Flush()
		return errors.Wrap(cw.Error(), "writing output")
	default:
		return errors.Newf("unknown format %q (want table, csv or tsv)", format)
	}
}

func rowCount(n int) string {
	if n == 1 {
		return "(1 row)"
	}
	return fmt.Sprintf("(%d rows)", n)
}

// writeTable prints an aligned table in CockroachDB's layout: headers
// centred, cells padded by one space, columns separated by '|', a dashed rule
// under the headers, trailing spaces trimmed. Cells with newlines span
// several lines.
//
//	  id | name
//	-----+-------
//	   1 | alice
func writeTable(w io.Writer, headers []string, rows [][]string, rightAlign []bool) {
	if len(headers) == 0 {
		return
	}
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = textWidth(h)
	}
	for _, r := range rows {
		for i, c := range r {
			if wd := textWidth(c); wd > widths[i] {
				widths[i] = wd
			}
		}
	}
	var b strings.Builder
	writeLine := func(cells []string, pad func(i int, s string) string) {
		lines := 1
		split := make([][]string, len(cells))
		for i, c := range cells {
			split[i] = strings.Split(c, "\n")
			lines = max(lines, len(split[i]))
		}
		for l := 0; l < lines; l++ {
			b.Reset()
			b.WriteByte(' ')
			for i := range cells {
				if i > 0 {
					b.WriteByte('|')
				}
				s := ""
				if l < len(split[i]) {
					s = split[i][l]
				}
				b.WriteByte(' ')
				b.WriteString(pad(i, s))
				b.WriteByte(' ')
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		}
	}
	writeLine(headers, func(i int, s string) string { return center(s, widths[i]) })
	b.Reset()
	for i, wd := range widths {
		if i > 0 {
			b.WriteByte('+')
			b.WriteString(strings.Repeat("-", wd+2))
		} else {
			b.WriteString(strings.Repeat("-", wd+3))
		}
	}
	fmt.Fprintln(w, b.String())
	for _, r := range rows {
		writeLine(r, func(i int, s string) string {
			if i < len(rightAlign) && rightAlign[i] {
				return strings.Repeat(" ", widths[i]-textWidth(s)) + s
			}
			return s + strings.Repeat(" ", widths[i]-textWidth(s))
		})
	}
}

// textWidth is the widest line of s in runes (terminal columns for the text
// vcdb prints; East Asian wide characters count as one).
func textWidth(s string) int {
	wd := 0
	for _, l := range strings.Split(s, "\n") {
		wd = max(wd, utf8.RuneCountInString(l))
	}
	return wd
}

func center(s string, width int) string {
	gap := width - textWidth(s)
	left := gap / 2
	return strings.Repeat(" ", left) + s + strings.Repeat(" ", gap-left)
}
