package userns

import (
	"context"
	"io"
	"os"

	"husk/pdeath"
	"husk/reexec"
)

// Call runs husk's function name (reexec.Register) with args inside
// husk's user namespace, where the store's files belong to the
// namespace's ids: a container's monitor on the host removes its
// container this way, a foreground run pulls its image. The function's
// answer goes to out, its errors to this process's stderr; Call returns
// its exit code. Inside already, or as real root, it runs the function
// in this process.
func Call(ctx context.Context, out io.Writer, name string, args ...string) (int, error) {
	return CallWith(ctx, out, os.Stderr, name, args...)
}

// CallWith is Call with the function's errors going to errw.
func CallWith(ctx context.Context, out, errw io.Writer, name string, args ...string) (int, error) {
	defer pdeath.Hold()() // the child's parent-death signal follows this thread
	fn, err := reexec.Lookup(name)
	if err != nil {
		return 125, err
	}
	if Inside() || os.Geteuid() == 0 {
		return fn(ctx, out, errw, args), nil
	}
	mapping, err := Detect()
	if err != nil {
		return 125, err
	}
	cmd, err := reexec.Command(name, args...)
	if err != nil {
		return 125, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, out, errw
	if err := startCmd(mapping, cmd); err != nil {
		return 125, err
	}
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	defer stop()
	return exitCode(cmd.Wait()), nil
}
