// Package seccomp turns a Docker/OCI seccomp profile into a BPF filter with
// libseccomp and loads it. Docker's default profile comes from
// github.com/moby/profiles/seccomp, so its rules are never typed by hand.
package seccomp

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

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
	body, err := readProfile(path)
	if err != nil {
		return nil, err
	}
	return parseProfile(path, body, caps)
}

// parseProfile is FromFile's reading of the profile body from path.
func parseProfile(path string, body []byte, caps []string) (*specs.LinuxSeccomp, error) {
	p, err := mobyseccomp.LoadProfile(string(body), specWithCaps(caps))
	if err != nil {
		return nil, fmt.Errorf("parsing seccomp profile %s: %v: fix the JSON (Docker's profile format) or use seccomp=unconfined", path, err)
	}
	if p == nil {
		return nil, fmt.Errorf("parsing seccomp profile %s: it has no defaultAction and no syscalls: use seccomp=unconfined to run without one", path)
	}
	if name := blocksStart(p); name != "" {
		return nil, fmt.Errorf("seccomp profile %s denies %s, which starting the container's process needs: allow %s", path, name, strings.Join(startCalls, ", "))
	}
	return p, nil
}

// maxProfile bounds what a profile file may hold: Docker's own is 30 KB,
// and seccomp=/dev/zero must not fill husk's memory.
const maxProfile = 4 << 20

func readProfile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading seccomp profile %s: %w: give a readable JSON file or seccomp=unconfined", path, err)
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, maxProfile+1))
	if err != nil {
		return nil, fmt.Errorf("reading seccomp profile %s: %w: give a readable JSON file or seccomp=unconfined", path, err)
	}
	if len(body) > maxProfile {
		return nil, fmt.Errorf("reading seccomp profile %s: larger than %d MiB: give a seccomp profile in Docker's JSON format", path, maxProfile>>20)
	}
	return body, nil
}

// startCalls are what the init still does after it loads the filter: exec
// the process, or report why it could not and exit.
var startCalls = []string{"execve", "write", "exit", "exit_group"}

// blocksStart names a call of startCalls that the profile refuses for every
// argument; a filter that did would leave the init unable to exec or exit.
func blocksStart(p *specs.LinuxSeccomp) string {
	for _, name := range startCalls {
		act := p.DefaultAction
		for _, r := range p.Syscalls {
			if slices.Contains(r.Names, name) {
				if len(r.Args) > 0 {
					act = specs.ActAllow // depends on arguments: leave it to the profile
				} else {
					act = r.Action
				}
			}
		}
		if act != specs.ActAllow && act != specs.ActLog {
			return name
		}
	}
	return ""
}

// specWithCaps is the smallest runtime spec moby's profile code reads: it
// looks only at the process's bounding capabilities.
func specWithCaps(caps []string) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
}
