package network

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"husk/reexec"
)

// Attachment is a container's place on a user-defined network, resolved
// when it is created (or connected) and kept in its config.
type Attachment struct {
	Network  string       `json:"network"`
	ID       string       `json:"id"`
	Subnet   netip.Prefix `json:"subnet"`
	Gateway  netip.Addr   `json:"gateway"`
	IP       netip.Addr   `json:"ip"`
	Internal bool         `json:"internal,omitempty"`
	// AllowHostLoopback is the network's -o allow_host_loopback=true.
	AllowHostLoopback bool     `json:"allowHostLoopback,omitempty"`
	Aliases           []string `json:"aliases,omitempty"` // --network-alias
	// Names are the container's own, which DNS answers too: its name and
	// short ID when it was created.
	Names []string `json:"names,omitempty"`
	// Claimed: IP is a reservation the prelaunch claimed for this run
	// (usernet.Store.Reserve), not to be leased again.
	Claimed bool `json:"-"`
}

// Config is the sandbox's side of the attachment: its address, and the
// gateway that also answers DNS.
func (a Attachment) Config() Config {
	return Config{Subnet: a.Subnet, IP: a.IP, Gateway: a.Gateway, DNS: a.Gateway, AllowHostLoopback: a.AllowHostLoopback}
}

// Member is an attachment as one start joins it, through the switch's
// socket.
type Member struct {
	Attachment
	Socket string `json:"socket"`
}

// SwitchSocket is where the switch of network id listens for the store at
// root: in the user's run directory, keyed by the store as well, since two
// stores of one user may have networks of one name.
func SwitchSocket(runDir, root, id string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(runDir, "net-"+hex.EncodeToString(sum[:4]), id[:16]+".sock")
}

// JoinSwitch hands the sandbox's TAP device to its network's switch,
// starting the switch if none runs, and stays a member until ctx ends.
func JoinSwitch(ctx context.Context, tap *os.File, m Member) error {
	c, err := Join(tap, m)
	if err != nil {
		return err
	}
	<-ctx.Done()
	c.Close()
	return nil
}

// Join hands tap to m's switch, starting the switch if none runs; the
// device stays on the network until the connection returned is closed.
func Join(tap *os.File, m Member) (*net.UnixConn, error) {
	p := switchPathsFor(m.Socket)
	if err := os.MkdirAll(filepath.Dir(p.socket), 0o700); err != nil {
		return nil, fmt.Errorf("joining network %s: %w", m.Network, err)
	}
	unlock, err := flockPath(p.lock)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := dialSwitch(p.socket)
	if err != nil {
		if err := startSwitch(p, m.Attachment); err != nil {
			return nil, fmt.Errorf("starting network %s's switch: %w", m.Network, err)
		}
		if c, err = dialSwitch(p.socket); err != nil {
			return nil, fmt.Errorf("joining network %s: %w", m.Network, err)
		}
	}
	b, _ := json.Marshal(joinRequest{Names: append(slices.Clone(m.Names), m.Aliases...), IP: m.IP})
	if err := sendMsg(c, b, tap); err != nil {
		c.Close()
		return nil, fmt.Errorf("joining network %s: %w", m.Network, err)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ok\n" {
		c.Close()
		return nil, fmt.Errorf("joining network %s: the switch did not answer (%v)", m.Network, err)
	}
	return c, nil
}

func dialSwitch(path string) (*net.UnixConn, error) {
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
}

// startSwitch starts the network's switch, detached (it outlives the
// container that started it), and waits until it listens.
func startSwitch(p switchPaths, a Attachment) error {
	os.Remove(p.socket) // a switch that died left it
	b, _ := json.Marshal(SwitchConfig{Network: a.Network, Subnet: a.Subnet, Gateway: a.Gateway, Internal: a.Internal, AllowHostLoopback: a.AllowHostLoopback})
	if err := os.WriteFile(p.config, b, 0o600); err != nil {
		return err
	}
	cmd, err := reexec.Command(SwitchCall, p.socket)
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	errLog, err := os.OpenFile(p.socket+".err", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		w.Close()
		return err
	}
	defer errLog.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, errLog
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return err
	}
	_ = cmd.Process.Release() // not waited for: init reaps it
	line, _ := bufio.NewReader(r).ReadString('\n')
	if line != "ok\n" {
		msg, _ := os.ReadFile(p.socket + ".err")
		return fmt.Errorf("%s", strings.TrimSpace(string(msg)))
	}
	return nil
}
