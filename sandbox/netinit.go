package sandbox

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"husk/network"
	"husk/sandbox/abi"
)

// NetSpec is a sandbox's network beyond lo (network.Spec).
type NetSpec = network.Spec

// envNet names the descriptor of the init's end of the network socket:
// the TAP device goes out on it, dial requests for published ports come in.
const envNet = abi.EnvSandboxNet

// netConn is the init's network socket, kept for serving dials.
var netConn *net.UnixConn

// setupNet runs in the init before the pivot (it needs the host's
// /dev/net/tun): the builtin stack gets a TAP device, made here and sent
// to the host side; an external helper configures the namespace itself,
// and the init waits for the host side's word that it has.
func setupNet(s *Spec) error {
	if s.Net == nil {
		return nil
	}
	conn, err := inheritedNetConn()
	if err != nil {
		return err
	}
	netConn = conn
	if s.Net.Mode != network.Builtin {
		if err := network.LoopbackUp(); err != nil {
			return err
		}
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := conn.Read(make([]byte, 1)); err != nil {
			return fmt.Errorf("waiting for %s to configure the network: %w", s.Net.Mode, err)
		}
		conn.SetReadDeadline(time.Time{})
		return nil
	}
	tap, err := network.SetupTap(s.Net.Config)
	if err != nil {
		return err
	}
	defer tap.Close()
	return network.SendFile(conn, tap)
}

func inheritedNetConn() (*net.UnixConn, error) {
	fd, err := strconv.Atoi(os.Getenv(envNet))
	if err != nil {
		return nil, fmt.Errorf("the network socket is missing (%s): this is husk's own error", envNet)
	}
	f := os.NewFile(uintptr(fd), "network")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("using the network socket: %w", err)
	}
	return c.(*net.UnixConn), nil
}

// serveDials answers the host side's dials for published ports, from
// inside the network namespace, and returns the socket's descriptor for
// the C init to go on with after the hand-over (-1: no dials).
func serveDials(s *Spec) int {
	if s.Net == nil || !s.Net.Dials || netConn == nil {
		return -1
	}
	go network.ServeDialer(netConn)
	// A duplicate for the C side: a plain descriptor, which no finalizer
	// closes.
	raw, err := netConn.SyscallConn()
	if err != nil {
		return -1
	}
	dup := -1
	_ = raw.Control(func(fd uintptr) { dup, _ = unix.Dup(int(fd)) })
	return dup
}
