package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// ContainerFlags are run's and create's flags: the sandbox's shape plus
// what makes it a container with a record.
type ContainerFlags struct {
	SandboxFlags
	DockerFlags
	VolumeFlags
	SlurmFlags
	Rm      bool     `help:"Remove the container when it exits."`
	Name    string   `help:"Name of the container (default: a generated one)."`
	Restart string   `help:"Restart policy while the monitor lives: no, on-failure[:N], always, unless-stopped." default:"no"`
	IP      string   `name:"ip" help:"Address on the user-defined network given by --network (default: the next free one)." placeholder:"IPV4"`
	Alias   []string `name:"network-alias" help:"Another name the user-defined network's DNS gives this container." placeholder:"NAME"`
	// join is run --join's key, for the container it creates.
	join string `kong:"-"`
}

// parseRestart reads Docker's restart policies: no, always,
// unless-stopped, on-failure[:max retries].
func parseRestart(p string) (policy string, max int, err error) {
	name, n, hasN := strings.Cut(p, ":")
	switch {
	case name == "" || name == "no" || name == "always" || name == "unless-stopped":
		if hasN {
			break
		}
		if name == "" {
			name = "no"
		}
		return name, 0, nil
	case name == "on-failure":
		if !hasN {
			return name, 0, nil
		}
		if max, err = strconv.Atoi(n); err == nil && max >= 0 {
			return name, max, nil
		}
	}
	return "", 0, fmt.Errorf("invalid --restart policy %q: use no, always, unless-stopped or on-failure[:N]", p)
}
