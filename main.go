// Command husk is a rootless, daemonless sandbox tool in one static binary.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"husk/cli"
	"husk/reexec"
	"husk/sandbox"
	"husk/start"

	// Their constructors run before the Go runtime starts: a container's
	// init, `husk exec`'s move into a container, the user namespace's
	// entry of the store commands (save, load, push, images, ...), the
	// prelaunch.
	"husk/sandbox/executor"
	_ "husk/sandbox/nsenter"
	"husk/userns"
)

// Stamped by the Makefile with -X.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	// Internal re-exec entry points come first: a child of husk must not
	// parse the user's command line as if it were a fresh invocation.
	if mode, sync := executor.Entered(); mode != "" {
		userns.EnteredInit(mode, sync)
	} else if err := userns.ChildInit(); err != nil {
		fail(err)
	}
	userns.Mapped = start.RecordEntry

	// containers/storage logs through logrus; its warnings are not the
	// user's business and would break husk's one-line errors.
	logrus.SetLevel(logrus.ErrorLevel)

	if executor.Following() {
		// A prelaunched sandbox runs already: its signals first.
		sandbox.HoldSignals()
	}
	ctx := interruptible()
	// One of husk's functions that another husk process asked for: a
	// container's monitor, or a step in husk's user namespace.
	reexec.Called(ctx)

	// Main has printed nothing of its error: print it here, once.
	code, err := cli.Main(ctx, os.Args[1:], cli.Build{Version: version, Commit: commit})
	if err != nil {
		fmt.Fprintln(os.Stderr, "husk: "+err.Error())
	}
	os.Exit(code)
}

// fail prints an error of husk's own, as one line, and exits 125 as Docker does.
func fail(err error) {
	fmt.Fprintln(os.Stderr, "husk: "+err.Error())
	os.Exit(cli.ExitHusk)
}

// sameSignal is how soon after the first Ctrl-C another one is a copy of
// it, not a second.
const sameSignal = 250 * time.Millisecond

// interruptible is the command's context: the first Ctrl-C (or SIGTERM)
// ends it and lets the command clean up; the next ends husk, even at a
// prompt that does not watch the context. A copy of the first that comes
// with it is not the next: a signal to the whole process group where no
// terminal is in front (timeout(1), a CI runner, kill -- -PGID) reaches a
// husk in the user namespace both directly and through its parent's
// relay, and the parent cannot tell that it did.
func interruptible() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		time.Sleep(sameSignal) // copies land in sigs, unread
		signal.Stop(sigs)
	}()
	return ctx
}
