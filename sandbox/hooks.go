package sandbox

import (
	"encoding/json"
	"fmt"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/sandbox/abi"
)

// The OCI hook kinds the init runs, as a CDI spec names them. Both run in
// the sandbox's namespaces as its root, before the user's process and
// before any privilege is dropped: createContainer after the mounts and
// before the pivot (its path is the host's, its working directory the
// container's root, as runc runs it), startContainer after the pivot (its
// path is the container's). The others (prestart, createRuntime,
// poststart, poststop) would run as root in the runtime's namespace,
// which a rootless husk does not have: cdi.Resolve refuses them in one
// line.
const (
	HookCreateContainer = "createContainer"
	HookStartContainer  = "startContainer"
)

// Hook is one hook the init runs, the container's OCI state on its stdin.
type Hook struct {
	When    string   `json:"when"` // HookCreateContainer or HookStartContainer
	Path    string   `json:"path"`
	Args    []string `json:"args,omitempty"` // argv, the first being the name
	Env     []string `json:"env,omitempty"`  // its whole environment
	Timeout int      `json:"timeout,omitempty"`
}

var hookWhen = map[string]string{HookCreateContainer: "c", HookStartContainer: "s"}

// hooks are the records of s's hooks: the state they read once, then one
// record each, its counts of arguments and variables before them.
func (e *encoder) hooks(s *Spec) {
	if len(s.Hooks) == 0 {
		return
	}
	if len(s.Hooks) > abi.MaxHooks {
		e.err = fmt.Errorf("more than %d CDI hooks: use fewer devices at once", abi.MaxHooks)
		return
	}
	state, err := json.Marshal(specs.State{Version: specs.Version, ID: s.ID, Status: specs.StateCreating, Bundle: s.Scratch})
	if err != nil {
		e.err = err
	}
	e.rec(abi.TagHookState, string(state))
	for _, h := range s.Hooks {
		when, ok := hookWhen[h.When]
		if !ok && e.err == nil {
			e.err = fmt.Errorf("the container's config has a %s hook, which husk does not run: remove the container and create it again", h.When)
		}
		args := h.Args
		if len(args) == 0 {
			args = []string{h.Path}
		}
		fields := []string{when, strconv.Itoa(max(h.Timeout, 0)), h.Path, strconv.Itoa(len(args)), strconv.Itoa(len(h.Env))}
		e.rec(abi.TagHook, append(append(fields, args...), h.Env...)...)
	}
}
