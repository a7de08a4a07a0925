package network

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rootless-containers/rootlesskit/v3/pkg/messages"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/slirp4netns"

	"husk/userns"
)

// startSlirp runs slirp4netns through rootlesskit's parent driver, then
// configures the tap device as rootlesskit's child would.
func startSlirp(pid int, cfg Config) (func(), error) {
	bin, nsenterBin, err := slirpPreflight(pid)
	if err != nil {
		return nil, err
	}
	out := &lockedBuffer{}
	d, err := slirp4netns.NewParentDriver(out, bin, cfg.MTU,
		&net.IPNet{IP: cfg.Subnet.Addr().AsSlice(), Mask: net.CIDRMask(cfg.Subnet.Bits(), 32)},
		cfg.TapName, !cfg.AllowHostLoopback, "", false, true, false)
	if err != nil {
		return nil, &userns.Error{Op: "starting the slirp4netns network", Err: err,
			Fix: "install slirp4netns 0.4 or later (sudo apt-get install slirp4netns), or use the builtin network (leave --network out)"}
	}
	msg, stop, err := configureOnThread(d.ConfigureNetwork, pid)
	if err != nil {
		return nil, fmt.Errorf("slirp4netns did not configure the sandbox's network: %s", slirpReason(err, out.String()))
	}
	if err := configureInterface(nsenterBin, pid, msg); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// slirpPreflight checks, each in one line with its fix, what the driver
// would otherwise report on the monitor's stderr: it makes the tap device
// by running nsenter and ip, in the namespaces of a live process.
func slirpPreflight(pid int) (bin, nsenterBin string, err error) {
	if bin, err = lookHelper(Slirp4netns, Slirp4netns, "slirp4netns"); err != nil {
		return "", "", err
	}
	if nsenterBin, err = lookHelper(Slirp4netns, "nsenter", "util-linux"); err != nil {
		return "", "", err
	}
	if _, err = lookHelper(Slirp4netns, "ip", "iproute2"); err != nil {
		return "", "", err
	}
	if err = devTun(); err != nil {
		return "", "", err
	}
	return bin, nsenterBin, sandboxAlive(Slirp4netns, pid)
}

// driverMsg is what a rootlesskit parent driver tells the child: the
// device, its address, gateway and MTU.
type driverMsg = messages.ParentInitNetworkDriverCompleted

// configureFunc is a parent driver's ConfigureNetwork.
type configureFunc = func(childPID int, stateDir, detachedNetNSPath string) (*driverMsg, func() error, error)

// configureOnThread runs the driver's ConfigureNetwork from a thread that
// lives as long as slirp4netns, so that the parent-death signal the driver
// gives it fires when the monitor dies and never because Go retired the
// thread that forked it. stop ends slirp4netns and that thread.
func configureOnThread(configure configureFunc, pid int) (*driverMsg, func(), error) {
	type result struct {
		msg *driverMsg
		err error
	}
	ready := make(chan result, 1)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		msg, cleanup, err := configure(pid, "", "")
		ready <- result{msg, err}
		if err == nil {
			<-quit
		}
		if cleanup != nil {
			cleanup()
		}
	}()
	stop := sync.OnceFunc(func() { close(quit); <-done })
	select {
	case r := <-ready:
		if r.err != nil {
			<-done
			return nil, nil, r.err
		}
		return r.msg, stop, nil
	case <-time.After(readyTimeout):
		// slirp4netns is still starting: the thread ends it once the driver
		// returns, and the parent-death signal with the monitor otherwise.
		go stop()
		return nil, nil, fmt.Errorf("no word after %s", readyTimeout)
	}
}

// slirpReason is slirp4netns's own last words where it left any, else the
// driver's.
func slirpReason(err error, out string) string {
	if strings.TrimSpace(out) != "" {
		return lastLine(out)
	}
	return err.Error()
}

// configureInterface gives the tap device its MTU, address and default
// route in the sandbox's namespace: the work of rootlesskit's child
// process, which its slirp4netns driver leaves the interface to, in one
// ip -batch.
func configureInterface(nsenterBin string, pid int, msg *driverMsg) error {
	dev := msg.Dev
	batch := strings.Join([]string{
		fmt.Sprintf("link set dev %s mtu %d", dev, msg.MTU),
		fmt.Sprintf("addr add %s/%d broadcast + dev %s", msg.IP, msg.Netmask, dev),
		fmt.Sprintf("link set dev %s up", dev),
		fmt.Sprintf("route add default via %s dev %s", msg.Gateway, dev),
	}, "\n") + "\n"
	cmd := nsenter(nsenterBin, pid, "ip", "-batch", "-")
	cmd.Stdin = strings.NewReader(batch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("slirp4netns network: configuring %s in the sandbox (address %s/%d, gateway %s): %s",
			dev, msg.IP, msg.Netmask, msg.Gateway, lastLine(string(out)))
	}
	return nil
}
