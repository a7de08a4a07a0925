package cli

import (
	"strings"

	"github.com/alecthomas/kong"
)

// hostnameShort reads -h as --hostname where Docker does: in run and
// create, before the image. Kong offers the application's -h (help) before
// a command's own flags, so the words are mended before parsing; -h
// anywhere else, and --help everywhere, still ask for help.
func hostnameShort(app *kong.Application, args []string) []string {
	i, node := verbNode(app, args)
	if node == nil || (node.Name != "run" && node.Name != "create") {
		return args
	}
	out := append([]string{}, args...)
	for j := i + 1; j < len(out); j++ {
		a := out[j]
		switch {
		case a == "--" || !strings.HasPrefix(a, "-") || a == "-":
			return out // the image: the command's own words follow
		case a == "-h":
			out[j] = "--hostname"
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
	return out
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
