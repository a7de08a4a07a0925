package oci

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// SpecVersion is the runtime spec husk reads.
var SpecVersion = specs.Version

// Features is runc features' answer for husk: the spec versions, the
// hooks it runs and the namespaces it makes.
func Features() features.Features {
	yes := true
	return features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"createContainer", "startContainer"},
		MountOptions:  []string{"ro", "rw", "nosuid", "nodev", "noexec", "bind", "rbind"},
		Linux: &features.Linux{
			Namespaces:   []string{"pid", "mount", "ipc", "uts", "network", "cgroup", "user"},
			Capabilities: nil,
			Seccomp:      &features.Seccomp{Enabled: &yes},
		},
	}
}
