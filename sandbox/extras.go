package sandbox

import (
	"fmt"
	"husk/network"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// HostGateway is --add-host's word for the host as the container's
// network reaches it (Docker's host-gateway).
const HostGateway = "host-gateway"

// Compiled on first use, not at every start of husk.
var hostName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`) })

// ParseAddHost reads --add-host NAME:IP (or NAME=IP, Docker's newer form);
// IP may be host-gateway, which needs a network of husk's own.
func ParseAddHost(h string, netMode string) (string, error) {
	name, ip, ok := strings.Cut(h, "=")
	if !ok {
		name, ip, ok = strings.Cut(h, ":")
	}
	ip = strings.Trim(ip, "[]")
	if !ok || !hostName().MatchString(name) {
		return "", fmt.Errorf("invalid --add-host %q: use NAME:IP, e.g. db:10.1.2.3", h)
	}
	if ip == HostGateway {
		if netMode == "none" || netMode == "host" {
			return "", fmt.Errorf("--add-host %q: host-gateway needs husk's own network, and --network %s has none: give the host's address instead", h, netMode)
		}
		return name + ":" + ip, nil
	}
	if _, err := netip.ParseAddr(ip); err != nil {
		return "", fmt.Errorf("invalid --add-host %q: %q is not an IP address: use NAME:IP or NAME:host-gateway", h, ip)
	}
	return name + ":" + ip, nil
}

// hostsLines are the /etc/hosts lines of --add-host entries (NAME:IP as
// ParseAddHost gives them); host-gateway is the network's gateway, which
// is the host as the container reaches it (host.husk.internal).
func hostsLines(extra []string, n *network.Spec) string {
	var b strings.Builder
	for _, e := range extra {
		name, ip, _ := strings.Cut(e, ":")
		if ip == HostGateway && n != nil {
			cfg, _ := n.Config.WithDefaults()
			ip = cfg.Gateway.String()
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, name)
	}
	return b.String()
}

// Device is --device HOST[:CONTAINER][:PERMISSIONS].
type Device struct {
	PathOnHost        string `json:"pathOnHost"`
	PathInContainer   string `json:"pathInContainer"`
	CgroupPermissions string `json:"cgroupPermissions"`
}

// ParseDevice reads --device and checks that the host's node is a device
// this user can open: a user namespace can only bind it, never make one.
func ParseDevice(d string) (Device, error) {
	parts := strings.Split(d, ":")
	dev := Device{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
	switch {
	case len(parts) == 2 && perms(parts[1]):
		dev.CgroupPermissions = parts[1]
	case len(parts) == 2:
		dev.PathInContainer = parts[1]
	case len(parts) == 3 && perms(parts[2]):
		dev.PathInContainer, dev.CgroupPermissions = parts[1], parts[2]
	case len(parts) != 1:
		return dev, fmt.Errorf("invalid --device %q: use HOST_PATH[:CONTAINER_PATH][:rwm]", d)
	}
	if !filepath.IsAbs(dev.PathOnHost) || !filepath.IsAbs(dev.PathInContainer) {
		return dev, fmt.Errorf("invalid --device %q: both paths must be absolute", d)
	}
	if err := CheckDevice(dev.PathOnHost); err != nil {
		return dev, fmt.Errorf("--device %w", err)
	}
	return dev, nil
}

// CheckDevice says why the host's node at path cannot go into a rootless
// container (nil: it can): not a device, or one this user cannot open. A
// user namespace can only bind a node, never make one, and a bound node
// is only of use to whoever may open it.
func CheckDevice(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("%s: %w: give an existing device node", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR && st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return fmt.Errorf("%s: not a device node: give one such as /dev/fuse", path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("%s: %w: a rootless container can only have devices you can open yourself", path, err)
	}
	f.Close()
	return nil
}

func perms(s string) bool {
	return s != "" && strings.Trim(s, "rwm") == ""
}

// deviceOps bind each device's host node into the container's /dev.
func deviceOps(devs []Device) []Op {
	var ops []Op
	for _, d := range devs {
		ops = append(ops, Op{Kind: KindBindDev, Source: d.PathOnHost, Target: d.PathInContainer})
	}
	return ops
}
