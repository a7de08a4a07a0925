package cli

import (
	"reflect"
	"testing"

	"github.com/alecthomas/kong"
)

// parsedCmd is the command words kong's parse of args gave a run or create.
func parsedCmd(t *testing.T, args []string) []string {
	t.Helper()
	c := &CLI{}
	parser, err := kong.New(c, kong.Name("husk"), keepCommas())
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := parseWords(parser, args)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	for _, p := range kctx.Selected().Positional {
		if p.Passthrough {
			return p.Target.Interface().([]string)
		}
	}
	t.Fatalf("%q: no command words", args)
	return nil
}

// The words after a run's image are its command, as Docker reads them,
// flags, "--" and all; before it, -h is --hostname.
func TestCommandWordsAfterTheImage(t *testing.T) {
	for _, tc := range []struct{ args, want []string }{
		{[]string{"run", "--rm", "-e", "A=1", "img", "sh", "-c", "echo", "--", "-x", "--rm"}, []string{"sh", "-c", "echo", "--", "-x", "--rm"}},
		{[]string{"create", "-h", "host", "--name", "n", "img", "a", "-h", "b"}, []string{"a", "-h", "b"}},
		{[]string{"container", "run", "-it", "-p", "80:80", "img", "--", "x"}, []string{"--", "x"}},
		{[]string{"run", "img", "-e", "X"}, []string{"-e", "X"}},
	} {
		if got := parsedCmd(t, tc.args); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: command %q, want %q", tc.args, got, tc.want)
		}
	}
}
