// Package reexec runs one of husk's own functions in another process of
// husk: a container's monitor, detached on the host, or a step that must
// happen in husk's user namespace (userns.Call). The function is found by
// name in a table that packages fill at init, and dispatched in main
// before any command line is parsed: husk never runs its own CLI as an
// API. Its argv is `husk NAME ARGS...`, so ps names the function and its
// arguments; arguments are IDs, references and paths, never secrets.
package reexec

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
)

// envCall marks a husk started to run a function; its value is the name.
const envCall = "HUSK_CALL"

// Func is a function another process may run: it gets the caller's
// arguments, writes its answer to out and its errors to errw (the
// process's stdout and stderr), and returns the process's exit code.
type Func func(ctx context.Context, out, errw io.Writer, args []string) int

var funcs = map[string]Func{}

// Register makes fn runnable by name; packages register at init.
func Register(name string, fn Func) {
	if _, dup := funcs[name]; dup {
		panic("reexec: two functions registered as " + name)
	}
	funcs[name] = fn
}

// Lookup finds a registered function.
func Lookup(name string) (Func, error) {
	fn, ok := funcs[name]
	if !ok {
		return nil, fmt.Errorf("running husk's function %q: no such function (registered: %v): this is husk's own error", name, names())
	}
	return fn, nil
}

// Command is husk, started as cmd.Start will, to run the function name.
// The caller sets stdio, descriptors and process attributes.
func Command(name string, args ...string) (*exec.Cmd, error) {
	if _, err := Lookup(name); err != nil {
		return nil, err
	}
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args = append([]string{"husk", name}, args...)
	cmd.Env = append(os.Environ(), envCall+"="+name)
	return cmd, nil
}

// Called runs, in a process that Command started, the function it names
// and exits with its code. Elsewhere it returns at once.
func Called(ctx context.Context) {
	name, ok := os.LookupEnv(envCall)
	if !ok {
		return
	}
	os.Unsetenv(envCall)
	fn, err := Lookup(name)
	if err != nil || len(os.Args) < 2 || os.Args[1] != name {
		fmt.Fprintf(os.Stderr, "husk: %s=%q does not match this process's arguments %q: this is husk's own error\n", envCall, name, os.Args)
		os.Exit(125)
	}
	os.Exit(fn(ctx, os.Stdout, os.Stderr, os.Args[2:]))
}

func names() []string {
	var out []string
	for n := range funcs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
