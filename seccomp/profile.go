// Package seccomp turns a Docker/OCI seccomp profile into a BPF filter with
// libseccomp and loads it. Docker's default profile comes from
// github.com/moby/profiles/seccomp, so its rules are never typed by hand.
package seccomp

import (
	"fmt"
	"os"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Default is Docker's default profile for a process with caps (the bounding
// set, names such as "CAP_SYS_ADMIN"): some rules depend on capabilities.
func Default(caps []string) (*specs.LinuxSeccomp, error) {
	p, err := mobyseccomp.GetDefaultProfile(specWithCaps(caps))
	if err != nil {
		return nil, fmt.Errorf("building Docker's default seccomp profile: %w", err)
	}
	return p, nil
}

// FromFile reads a profile in Docker's JSON format, as
// `--security-opt seccomp=FILE` names it.
func FromFile(path string, caps []string) (*specs.LinuxSeccomp, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading seccomp profile %s: %w: give a readable JSON file or seccomp=unconfined", path, err)
	}
	p, err := mobyseccomp.LoadProfile(string(body), specWithCaps(caps))
	if err != nil {
		return nil, fmt.Errorf("parsing seccomp profile %s: %v: fix the JSON (Docker's profile format) or use seccomp=unconfined", path, err)
	}
	if p == nil {
		return nil, fmt.Errorf("parsing seccomp profile %s: it has no defaultAction and no syscalls: use seccomp=unconfined to run without one", path)
	}
	return p, nil
}

// specWithCaps is the smallest runtime spec moby's profile code reads: it
// looks only at the process's bounding capabilities.
func specWithCaps(caps []string) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
}
