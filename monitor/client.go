package monitor

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"husk/monitor/attach"
	"husk/store/container"
)

// Attached is how a client (run, start -a, attach) relays a container:
// its input with -i, the detach keys (with -t), and whether signals sent to the
// client go to the container (a foreground run's, as docker run's
// --sig-proxy).
type Attached struct {
	Stdin        bool
	DetachKeys   []byte
	ProxySignals bool
}

// Dial connects to the attach socket of the container's monitor.
func Dial(ct *container.Container) (*net.UnixConn, error) {
	dir, err := container.RunDir(ct.ID)
	if err != nil {
		return nil, err
	}
	conn, err := attach.Dial(filepath.Join(dir, "attach.sock"))
	if err != nil {
		return nil, fmt.Errorf("%w: its monitor does not answer: see 'husk ps -a'", err)
	}
	return conn, nil
}

// StartAttached launches the container's monitor, attaches before the
// process starts (so no output is missed), and relays until the container
// exits (its code) or the client detaches. A start that fails, with its
// process never run, is an *ExitError with the code for the verb.
func StartAttached(ct *container.Container, a Attached) (code int, detached bool, err error) {
	ms, err := Launch(ct, true)
	if err != nil {
		return 0, false, notStarted(err)
	}
	conn, err := Dial(ct)
	if err != nil {
		ms.pipe.Close()
		return 0, false, notStarted(err)
	}
	cl := a.client(ct)
	if err := cl.Ready(conn); err != nil {
		conn.Close()
		ms.pipe.Close()
		return 0, false, notStarted(err)
	}
	if err := ms.Running(); err != nil {
		conn.Close()
		return 0, false, notStarted(err)
	}
	return a.relay(cl, conn, ct)
}

func notStarted(err error) error {
	if _, ok := err.(*ExitError); ok {
		return err
	}
	return &ExitError{Code: exitHusk, Err: err}
}

// Relay attaches this process's terminal (or pipes) to the container
// until it exits or the detach keys are typed. A container that removes
// itself (--rm) has gone when Relay returns its code, as with docker run.
func (a Attached) Relay(conn *net.UnixConn, ct *container.Container) (code int, detached bool, err error) {
	return a.relay(a.client(ct), conn, ct)
}

func (a Attached) client(ct *container.Container) *attach.Client {
	cl := &attach.Client{Stdout: os.Stdout, Stderr: os.Stderr}
	if a.Stdin {
		cl.Stdin = os.Stdin
	}
	if ct.Config.Terminal() {
		// Only a terminal's input is watched for the keys, as Docker's:
		// piped input (a tar stream, say) passes whole.
		cl.Terminal, cl.DetachKeys = os.Stdin, a.DetachKeys
	}
	return cl
}

func (a Attached) relay(cl *attach.Client, conn *net.UnixConn, ct *container.Container) (code int, detached bool, err error) {
	if a.ProxySignals {
		defer proxySignals(ct.ID)()
	}
	code, detached, err = cl.Run(conn)
	if err == nil && !detached && ct.Config.AutoRemove {
		waitRemoved(ct.ID, 10*time.Second)
	}
	return code, detached, err
}

// proxied are the signals a foreground run passes on: those a user sends
// to stop or poke a process. Job control and window changes stay husk's.
var proxied = []os.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM}

// proxySignals sends each signal this process gets to the container's
// init, which passes it to the process, until the returned stop.
func proxySignals(id string) (stop func()) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, proxied...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				kill(id, s.(unix.Signal))
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

func kill(id string, sig unix.Signal) {
	cs, err := container.OpenDefault()
	if err != nil {
		return
	}
	if ct, err := cs.Find(id); err == nil {
		_ = cs.Kill(ct, sig)
	}
}

// waitRemoved waits until the monitor has removed the container's record.
func waitRemoved(id string, d time.Duration) {
	cs, err := container.OpenDefault()
	if err != nil {
		return
	}
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := cs.Find(id); err != nil {
			return
		}
	}
}
