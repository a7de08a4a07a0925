package network

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// startPasta runs pasta in the foreground, as our child, so that it dies
// with the monitor: daemonized, it would keep the namespace alive. In the
// foreground it writes its pid file once the namespace is configured.
func startPasta(pid int, cfg Config) (func(), error) {
	bin, err := lookHelper(Pasta, "passt")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "husk-pasta-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	pidFile := filepath.Join(dir, "pid")
	capSendBuffer(pid)
	h, err := startHelper(bin, pastaArgs(pid, cfg, pidFile))
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(readyTimeout); ; time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile(pidFile); len(b) > 0 {
			return h.stop, nil
		}
		select {
		case <-h.done:
			return nil, h.failed(Pasta)
		default:
		}
		if time.Now().After(deadline) {
			return nil, h.failed(Pasta)
		}
	}
}

// pastaArgs mirror the builtin network: the same addresses, DNS through
// pasta's forwarder on cfg.DNS, no port forwarding of pasta's own (husk
// publishes ports itself), and the gateway mapped to the host only when
// allowed.
func pastaArgs(pid int, cfg Config, pidFile string) []string {
	userNS, netNS := nsPaths(pid)
	args := []string{"--foreground", "--config-net", "--quiet", "--ipv4-only", "--pid", pidFile,
		"--ns-ifname", cfg.TapName, "--mtu", strconv.Itoa(cfg.MTU),
		"--address", cfg.IP.String(), "--netmask", strconv.Itoa(cfg.Subnet.Bits()),
		"--gateway", cfg.Gateway.String(), "--dns-forward", cfg.DNS.String(),
		"--tcp-ports", "none", "--udp-ports", "none", "--tcp-ns", "none", "--udp-ns", "none",
		// pasta started as root drops to nobody, who could not open the namespaces.
		"--runas", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
		"--userns", userNS, "--netns", netNS}
	if !cfg.AllowHostLoopback {
		args = append(args, "--no-map-gw")
	}
	return args
}

// sendBufferMax caps net.ipv4.tcp_wmem in pasta's namespace. pasta
// acknowledges the sandbox's data once its own socket to the peer took it,
// and drops a segment that socket has no room for, for the sandbox to send
// again; with pasta as Debian 12 ships it the sandbox's kernel recovers
// without SACK (it counts Reno recoveries), and a drop often costs the
// sender a retransmission timeout. With the kernel's 4 MiB send
// buffer a sender keeps more in flight than pasta's socket to a loopback
// peer holds: egress to a host service measured 0.2 to 3 Gbit/s, and 7 to
// 9 with 512 KiB. The sandbox's window only has to cover the hop to pasta,
// whose own socket buffers for the path beyond, so the cap costs nothing
// further out.
const sendBufferMax = 512 << 10

// capSendBuffer lowers the maximum of net.ipv4.tcp_wmem in the network
// namespace of pid to sendBufferMax. A new namespace starts with the
// host's values, so the host's minimum and default are kept. Joining a
// user namespace takes a single-threaded process: nsenter (util-linux)
// does it. Without nsenter, or where /proc/sys is read-only, the kernel's
// default stays, which costs only speed.
func capSendBuffer(pid int) {
	const path = "/proc/sys/net/ipv4/tcp_wmem"
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return
	}
	if max, err := strconv.Atoi(f[2]); err != nil || max <= sendBufferMax {
		return
	}
	bin, err := exec.LookPath("nsenter")
	if err != nil {
		return
	}
	userNS, netNS := nsPaths(pid)
	exec.Command(bin, "--user="+userNS, "--net="+netNS, "--", "/bin/sh", "-c",
		fmt.Sprintf("echo %s %s %d > %s", f[0], f[1], sendBufferMax, path)).Run()
}
