package cli

import (
	"reflect"
	"strings"

	"github.com/alecthomas/kong"
)

// imageWord scans the words of a run or create: it returns them with -h
// as --hostname, and the index of the image (-1 for other verbs, or when
// there is none), after which the words are the command's own.
func imageWord(app *kong.Application, args []string) ([]string, int) {
	i, node := verbNode(app, args)
	if node == nil || (node.Name != "run" && node.Name != "create") {
		return args, -1
	}
	out := append([]string{}, args...)
	for j := i + 1; j < len(out); j++ {
		a := out[j]
		switch {
		case a == "--":
			return out, -1 // kong's to place
		case !strings.HasPrefix(a, "-") || a == "-":
			return out, j // the image: the command's own words follow
		case a == "-h":
			out[j] = "--hostname"
			j++ // its value
		case strings.HasPrefix(a, "--"):
			if f := flagNamed(node, strings.TrimPrefix(a, "--")); f != nil && !strings.Contains(a, "=") && !f.IsBool() {
				j++ // its value
			}
		default:
			if takesNext(node, a[1:]) {
				j++
			}
		}
	}
	return out, -1
}

// parseWords parses args. A run's or create's command, the words after
// the image, is set after kong parsed the words up to it, as Docker reads
// them: kong would take a flag after the image as husk's (`run IMG -e X`)
// and puts a passthrough argument's words back one at a time at the front
// of its list, quadratic in their number (18 s for 30,000 words).
func parseWords(parser *kong.Kong, args []string) (*kong.Context, error) {
	args, img := imageWord(parser.Model, args)
	if img < 0 || img == len(args)-1 {
		return parser.Parse(args)
	}
	kctx, err := parser.Parse(args[:img+1])
	if err != nil {
		return nil, err
	}
	for _, p := range kctx.Selected().Positional {
		if p.Passthrough && p.Target.Kind() == reflect.Slice {
			p.Target.Set(reflect.ValueOf(append([]string{}, args[img+1:]...)))
			return kctx, nil
		}
	}
	return parser.Parse(args)
}

// verbNode finds the command the words name (container run as well as
// run) and the index of its last word.
func verbNode(app *kong.Application, args []string) (int, *kong.Node) {
	var node *kong.Node
	children := app.Children
	for i := nextWord(args, 0); i < len(args); i = nextWord(args, i+1) {
		next := childNamed(children, args[i])
		if next == nil {
			return i - 1, node
		}
		node, children = next, next.Children
		if len(children) == 0 {
			return i, node
		}
	}
	return 0, nil
}

func childNamed(children []*kong.Node, name string) *kong.Node {
	for _, c := range children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func flagNamed(n *kong.Node, name string) *kong.Flag {
	for _, group := range n.AllFlags(false) {
		for _, f := range group {
			if f.Name == name {
				return f
			}
		}
	}
	return nil
}

// takesNext: a cluster of short flags (-it, -p8080:80) whose last flag
// wants a value that was not attached.
func takesNext(n *kong.Node, cluster string) bool {
	for k, r := range cluster {
		for _, group := range n.AllFlags(false) {
			for _, f := range group {
				if f.Short == r && !f.IsBool() {
					return k == len(cluster)-1
				}
			}
		}
	}
	return false
}
