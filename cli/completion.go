package cli

import (
	"os"

	"github.com/alecthomas/kong"
	kongcompletion "github.com/jotaen/kong-completion"
)

// CompletionCmd is `husk completion SHELL`: the line that makes SHELL ask
// husk itself for completions, which it answers from its kong model.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

func (c *CompletionCmd) Run(kctx *kong.Context) error {
	cc := kongcompletion.Completion{Shell: c.Shell, Code: true}
	return cc.Run(kctx)
}

// completing answers a shell's completion request (COMP_LINE set), then
// exits through the parser; other runs pay one environment lookup.
func completing(parser *kong.Kong) {
	if os.Getenv("COMP_LINE") != "" {
		kongcompletion.Register(parser)
	}
}
