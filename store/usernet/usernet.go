// Package usernet keeps user-defined networks (husk network create): a
// directory each under husk's root (<root>/networks/NAME) with the
// network's definition and the addresses leased to containers, one file
// per address. What joins containers on a network at run time is
// network.Switch's; this package is only the records.
package usernet

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"husk/store"
)

// Network is one network as `network inspect` shows it, Docker's fields.
type Network struct {
	Name     string `json:"Name"`
	ID       string `json:"Id"`
	Created  string `json:"Created"`
	Scope    string `json:"Scope"`
	Driver   string `json:"Driver"`
	Internal bool   `json:"Internal"`
	// Options are -o's: allow_host_loopback=true lets host.husk.internal
	// (the gateway) reach the host's loopback, as --network
	// builtin:allow_host_loopback=true does.
	Options map[string]string `json:"Options"`
	Subnet  netip.Prefix      `json:"Subnet"`
	Gateway netip.Addr        `json:"Gateway"`
	Labels  map[string]string `json:"Labels"`
}

// Store is the networks directory <root>/networks.
type Store struct{ dir string }

// ErrNoSuchNetwork is a name or ID that matches no network.
var ErrNoSuchNetwork = errors.New("no such network")

// Compiled on first use, not at every start of husk.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// reserved are the names --network takes for husk's own modes.
var reserved = map[string]bool{"builtin": true, "default": true, "bridge": true, "host": true, "none": true, "slirp4netns": true, "pasta": true, "private": true}

// defaultPool is where a network without --subnet gets its /24, as
// Podman's networks do (10.89.N.0/24).
var defaultPool = netip.MustParsePrefix("10.89.0.0/16")

// Open opens (making it) the networks directory under husk's root.
func Open() (*Store, error) {
	root, _, _, err := store.Paths()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "networks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the networks directory %s: %w: set HUSK_ROOT to a directory of yours", dir, err)
	}
	return &Store{dir: dir}, nil
}

// Spec is what a new network is made with.
type Spec struct {
	Name     string
	Subnet   netip.Prefix // zero: the next free /24 of 10.89.0.0/16
	Gateway  netip.Addr   // zero: .1 of the subnet
	Internal bool
	Labels   map[string]string
	Options  map[string]string
}

// CheckName refuses a name that is not a network's, or one of husk's modes.
func CheckName(name string) error {
	if !validName().MatchString(name) {
		return fmt.Errorf("invalid network name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	if reserved[name] {
		return fmt.Errorf("network name %q is one of --network's own modes: pick another name", name)
	}
	return nil
}

// Create makes a network; a name in use is refused, as Docker does.
func (s *Store) Create(sp Spec) (*Network, error) {
	if err := CheckName(sp.Name); err != nil {
		return nil, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		if n.Name == sp.Name {
			return nil, fmt.Errorf("network %s already exists: pick another name, or remove it first (husk network rm %s)", sp.Name, sp.Name)
		}
	}
	n, err := newNetwork(sp, all)
	if err != nil {
		return nil, err
	}
	return n, s.write(n)
}

func newNetwork(sp Spec, all []*Network) (*Network, error) {
	sub, err := pickSubnet(sp.Subnet, all)
	if err != nil {
		return nil, err
	}
	gw := sp.Gateway
	if !gw.IsValid() {
		gw = sub.Addr().Next()
	}
	if !sub.Contains(gw) || gw == sub.Addr() || gw == broadcast(sub) {
		return nil, fmt.Errorf("--gateway %s is not a host address of the subnet %s: pick one inside it", gw, sub)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	labels, opts := sp.Labels, sp.Options
	if labels == nil {
		labels = map[string]string{}
	}
	if opts == nil {
		opts = map[string]string{}
	}
	for k, v := range opts {
		if k != "allow_host_loopback" || (v != "true" && v != "false") {
			return nil, fmt.Errorf("network option %s=%s: husk knows allow_host_loopback=true|false only", k, v)
		}
	}
	return &Network{Name: sp.Name, ID: hex.EncodeToString(id), Created: time.Now().Format(time.RFC3339Nano), Scope: "local",
		Driver: "bridge", Internal: sp.Internal, Subnet: sub, Gateway: gw, Labels: labels, Options: opts}, nil
}

// pickSubnet checks a --subnet, or finds the first /24 of the pool that
// no other network of this user has.
func pickSubnet(want netip.Prefix, all []*Network) (netip.Prefix, error) {
	overlaps := func(p netip.Prefix) string {
		for _, n := range all {
			if n.Subnet.Overlaps(p) {
				return n.Name
			}
		}
		return ""
	}
	if want.IsValid() {
		want = want.Masked()
		if !want.Addr().Is4() || want.Bits() > 24 || want.Bits() < 8 {
			return want, fmt.Errorf("--subnet %s: use an IPv4 subnet from /8 to /24, such as 10.90.0.0/24", want)
		}
		if other := overlaps(want); other != "" {
			return want, fmt.Errorf("--subnet %s overlaps network %s's: pick another subnet", want, other)
		}
		return want, nil
	}
	base := defaultPool.Addr().As4()
	for i := 1; i < 256; i++ {
		base[2] = byte(i)
		p := netip.PrefixFrom(netip.AddrFrom4(base), 24)
		if overlaps(p) == "" {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("every /24 of %s is taken by a network: remove one (husk network prune), or give --subnet", defaultPool)
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (s *Store) write(n *Network) error {
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(s.dir, ".new-")
	if err != nil {
		return fmt.Errorf("creating network %s in %s: %w", n.Name, s.dir, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "network.json"), b, 0o600); err == nil {
		err = os.Mkdir(filepath.Join(tmp, "leases"), 0o700)
	}
	if err == nil {
		// Whole or not at all.
		err = os.Rename(tmp, filepath.Join(s.dir, n.Name))
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("creating network %s: %w", n.Name, err)
	}
	return nil
}

func (s *Store) read(name string) (*Network, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, name, "network.json"))
	if err != nil {
		return nil, err
	}
	var n Network
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("reading network %s: %w: remove it (husk network rm %s)", name, err, name)
	}
	return &n, nil
}

// List is every network, by name.
func (s *Store) List() ([]*Network, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing networks in %s: %w", s.dir, err)
	}
	var out []*Network
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if n, err := s.read(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get finds a network by name, ID or a unique prefix of its ID.
func (s *Store) Get(ref string) (*Network, error) {
	if validName().MatchString(ref) {
		if n, err := s.read(ref); err == nil {
			return n, nil
		}
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var found *Network
	for _, n := range all {
		if len(ref) >= 3 && strings.HasPrefix(n.ID, ref) {
			if found != nil {
				return nil, fmt.Errorf("network ID prefix %s matches more than one network: give more of it", ref)
			}
			found = n
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: %s: see 'husk network ls'", ErrNoSuchNetwork, ref)
	}
	return found, nil
}

// Remove deletes a network. Whether containers still use it is the
// caller's to check (their records are store/container's).
func (s *Store) Remove(name string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	gone := filepath.Join(s.dir, ".rm-"+name)
	if err := os.Rename(filepath.Join(s.dir, name), gone); err != nil {
		return fmt.Errorf("removing network %s: %w", name, err)
	}
	return os.RemoveAll(gone)
}
