package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"text/template"
)

// printTemplate runs a Docker-style --format template once per item.
// "table TEMPLATE" adds Docker's header line and aligns the columns; \t
// and \n typed literally in the template are a tab and a newline, as
// Docker reads them (a shell's single quotes keep the backslash).
func printTemplate[T any](w io.Writer, format string, items []T) error {
	format, table := strings.CutPrefix(format, "table ")
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	t, err := template.New("format").Funcs(template.FuncMap{"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}}).Parse(format)
	if err != nil {
		return fmt.Errorf("parsing --format %q: %w: see Go's text/template syntax, e.g. '{{.ID}}'", format, err)
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	var rows []any
	if table {
		var zero T
		rows = append(rows, headers(zero))
	}
	for _, it := range items {
		rows = append(rows, it)
	}
	for _, r := range rows {
		if err := t.Execute(tw, r); err != nil {
			return fmt.Errorf("running --format %q: %w", format, err)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// headers are a row type's column titles by field name, as Docker prints
// them over a table: the header tag, else the name in capitals.
func headers(row any) headerRow {
	out := headerRow{}
	t := reflect.TypeOf(row)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		h := f.Tag.Get("header")
		if h == "" {
			h = strings.ToUpper(f.Name)
		}
		out[f.Name] = h
	}
	return out
}

// headerRow is a table's header line; its methods stand for the row
// type's methods that take arguments ({{.Label "KEY"}}), which a map's
// keys cannot.
type headerRow map[string]string

// Label is the header over ps's {{.Label "KEY"}}.
func (headerRow) Label(string) string { return "LABEL" }

// printRows is a listing verb's output: the IDs alone with -q, else the
// user's --format, else the verb's own table.
func printRows[T any](w io.Writer, quiet bool, format, table string, rows []T, id func(T) string) error {
	if quiet {
		for _, r := range rows {
			fmt.Fprintln(w, id(r))
		}
		return nil
	}
	if format == "" {
		format = table
	}
	return printFormatted(w, format, rows)
}
