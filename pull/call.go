package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"husk/reexec"
	"husk/store"
)

// CallPull is the function (reexec) that pulls a missing image for run
// and create, in husk's user namespace, as `docker run` pulls: from the
// registry's TLS and the host's platform, progress on stderr, the image's
// name to out. Its arguments are the store driver and the reference.
const CallPull = "pull"

func init() {
	reexec.Register(CallPull, func(ctx context.Context, out, errw io.Writer, args []string) int {
		if len(args) != 2 {
			fmt.Fprintf(errw, "husk: %s takes the store driver and a reference: this is husk's own error\n", CallPull)
			return 125
		}
		s, err := store.Open(args[0])
		if err != nil {
			fmt.Fprintln(errw, "husk: "+err.Error())
			return 125
		}
		defer s.Close()
		// Bars only where they reach a terminal.
		f, tty := errw.(*os.File)
		if tty {
			_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
			tty = err == nil
		}
		name, err := Pull(ctx, s, Options{Ref: args[1], TLSVerify: true, TTY: tty, Stderr: errw})
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(errw, "husk: pull %s: interrupted: run the same pull again to complete it\n", args[1])
			return 130 // 128+SIGINT, as the shell reports it
		}
		if err != nil {
			fmt.Fprintln(errw, "husk: "+err.Error())
			return 125
		}
		fmt.Fprintln(out, name)
		return 0
	})
}
