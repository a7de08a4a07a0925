package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"text/tabwriter"
)

// VersionCmd is `husk version`: the client section of `docker version`.
// husk has no server, so there is no server section.
type VersionCmd struct {
	Format string `short:"f" help:"Go template over .Client (.Version .GitCommit .GoVersion .Os .Arch), or json."`
}

type versionInfo struct {
	Client clientVersion
}

type clientVersion struct {
	Version   string
	GitCommit string
	GoVersion string
	Os        string
	Arch      string
}

func (c *VersionCmd) Run(g *Globals) error {
	v := versionInfo{Client: clientVersion{Version: g.Build.Version, GitCommit: g.Build.Commit,
		GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH}}
	switch c.Format {
	case "":
	case "json":
		return json.NewEncoder(g.Stdout).Encode(v)
	default:
		return printTemplate(g.Stdout, c.Format, []versionInfo{v})
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 1, 1, ' ', 0)
	fmt.Fprintln(tw, "Client:")
	fmt.Fprintf(tw, " Version:\t%s\n", v.Client.Version)
	fmt.Fprintf(tw, " Git commit:\t%s\n", v.Client.GitCommit)
	fmt.Fprintf(tw, " Go version:\t%s\n", v.Client.GoVersion)
	fmt.Fprintf(tw, " OS/Arch:\t%s/%s\n", v.Client.Os, v.Client.Arch)
	return tw.Flush()
}
