package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"husk/network"
	"husk/pdeath"
	"husk/reexec"
	"husk/sandbox/abi"
	"husk/sandbox/nsenter"
)

// A user-defined network joined while a container runs (network connect,
// or its networks after the first at a start) gets a TAP device of its own
// in the container's network namespace. Exec's entry joins the container
// with /dev/net/tun opened in its network namespace as stdin (abi's
// HUSK_ENV_NSENTER_TUN) and runs a sealed copy of husk there with
// CAP_NET_ADMIN added, which makes the device on it, gives it its address,
// and sends the descriptor back on stdout, a socket. The host passes it on
// to the network's switch.

const tapFunc = "net-attach"

func init() { reexec.Register(tapFunc, tapHere) }

// fdTapBinary is the copy of husk's descriptor in the process inside,
// after exec's spec, console and binds sockets.
const fdTapBinary = 6

// AttachTap makes a TAP device (tap1, tap2...) in the running container
// whose init is pid, from s (its spec.json), with cfg's address, and
// returns its descriptor.
func AttachTap(pid int, s *Spec, cfg network.Config) (*os.File, error) {
	defer pdeath.Hold()() // the child's parent-death signal follows this thread
	bin, err := SealedSelf()
	if err != nil {
		return nil, err
	}
	defer bin.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating the network device's socket: %w", err)
	}
	here, there := os.NewFile(uintptr(fds[0]), "tap-socket"), os.NewFile(uintptr(fds[1]), "tap-socket-child")
	defer here.Close()
	defer there.Close()
	addr := netip4(cfg)
	x := *s
	x.Args = []string{fmt.Sprintf("/proc/self/fd/%d", fdTapBinary), tapFunc, addr, strconv.Itoa(cfg.MTU), cfg.MAC().String()}
	x.Env, x.User, x.Cwd, x.Terminal = []string{"HUSK_CALL=" + tapFunc}, "0:0", "/", false
	x.Caps = append(append([]string(nil), s.Caps...), "CAP_NET_ADMIN")
	spec, err := x.EncodeExec(false)
	if err != nil {
		return nil, err
	}
	cmd, err := nsenter.Command(pid, spec)
	if err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env, abi.EnvNsenterTun+"=1")
	cmd.Args = []string{"husk", "net-attach", s.ID}
	cmd.ExtraFiles = append(cmd.ExtraFiles, nil, nil, bin) // abi.FdConsole, abi.FdExecBinds, fdTapBinary
	var errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, there, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(errb.String()); msg != "" {
			l := strings.Split(msg, "\n")
			return nil, errors.New(strings.TrimPrefix(l[len(l)-1], "husk: "))
		}
		return nil, fmt.Errorf("adding a network device inside the container: %w", err)
	}
	c, err := net.FileConn(here)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	tap, err := network.RecvFile(c.(*net.UnixConn))
	if err != nil {
		return nil, fmt.Errorf("receiving the container's network device: %w", err)
	}
	return tap, nil
}

func netip4(cfg network.Config) string {
	return fmt.Sprintf("%s/%d", cfg.IP, cfg.Subnet.Bits())
}

// tapHere is net-attach, inside the container: ADDR/PREFIX MTU MAC, with
// /dev/net/tun on stdin and a socket for it on stdout.
func tapHere(_ context.Context, _, errw io.Writer, args []string) int {
	if len(args) != 3 {
		fmt.Fprintf(errw, "husk: %s: want ADDR/PREFIX MTU MAC, got %q: this is husk's own error\n", tapFunc, args)
		return 125
	}
	err := makeTap(args[0], args[1], args[2])
	if err == nil {
		err = sendTap()
	}
	if err != nil {
		fmt.Fprintf(errw, "husk: adding a network device inside the container: %v\n", err)
		return 125
	}
	return 0
}

func sendTap() error {
	c, err := net.FileConn(os.Stdout)
	if err != nil {
		return err
	}
	defer c.Close()
	return network.SendFile(c.(*net.UnixConn), os.Stdin)
}

func makeTap(addr, mtu, mac string) error {
	ip, ipnet, err := net.ParseCIDR(addr)
	if err != nil {
		return err
	}
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return err
	}
	m, err := strconv.Atoi(mtu)
	if err != nil {
		return err
	}
	ifr, err := unix.NewIfreq("tap%d") // the kernel picks the first free number
	if err != nil {
		return err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(0, unix.TUNSETIFF, ifr); err != nil {
		return fmt.Errorf("creating the TAP device: %w", err)
	}
	link, err := netlink.LinkByName(ifr.Name())
	if err != nil {
		return err
	}
	ipnet.IP = ip
	if err := netlink.LinkSetHardwareAddr(link, hw); err != nil {
		return fmt.Errorf("setting %s's address %s: %w", ifr.Name(), mac, err)
	}
	if err := netlink.LinkSetMTU(link, m); err != nil {
		return fmt.Errorf("setting %s's MTU: %w", ifr.Name(), err)
	}
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipnet}); err != nil {
		return fmt.Errorf("adding %s to %s: %w", addr, ifr.Name(), err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing %s up: %w", ifr.Name(), err)
	}
	return nil
}
