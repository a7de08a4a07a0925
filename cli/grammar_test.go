package cli

import (
	"slices"
	"testing"

	"github.com/alecthomas/kong"
)

// Every verb of the whole CLI, and each of its aliases, gets the grammar of
// that verb alone, and that grammar selects the same command: a verb
// added to CLI or renamed is never parsed with a grammar that lacks it.
func TestOneVerbGrammar(t *testing.T) {
	full, err := kong.New(&CLI{}, kong.Name("husk"), keepCommas())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range full.Model.Children {
		if n.Type != kong.CommandNode {
			continue
		}
		for _, word := range append([]string{n.Name}, n.Aliases...) {
			grammar, globals := grammarFor([]string{"--storage-driver", "vfs", word})
			if _, whole := grammar.(*CLI); whole || globals == nil {
				t.Errorf("%s: parsed with the whole CLI, not the verb's own grammar", word)
				continue
			}
			one, err := kong.New(grammar, kong.Name("husk"), keepCommas())
			if err != nil {
				t.Fatalf("%s: %v", word, err)
			}
			names := []string{}
			for _, c := range one.Model.Children {
				names = append(names, c.Name)
			}
			if !slices.Equal(names, []string{n.Name}) {
				t.Errorf("%s: the verb's grammar has commands %v, want [%s]", word, names, n.Name)
			}
		}
	}
	for _, args := range [][]string{{"--help"}, {"push", "--help"}, {"nosuchverb"}, {}} {
		if g, _ := grammarFor(args); !isWhole(g) {
			t.Errorf("%q: want the whole CLI (help or an unknown verb)", args)
		}
	}
}

func isWhole(g any) bool { _, ok := g.(*CLI); return ok }

// The global flags are read from the verb's grammar as from the whole one.
func TestOneVerbGrammarGlobals(t *testing.T) {
	args := []string{"--storage-driver", "vfs", "images"}
	grammar, globals := grammarFor(args)
	parser, err := kong.New(grammar, kong.Name("husk"), keepCommas())
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := parseWords(parser, args)
	if err != nil {
		t.Fatal(err)
	}
	if globals.StorageDriver != "vfs" || kctx.Command() != "images" {
		t.Errorf("got driver %q, command %q; want vfs, images", globals.StorageDriver, kctx.Command())
	}
}
