package usernet

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// staleAfter is how old a lease of a container with no record may be
// before another takes its address: a create in progress leases first and
// writes its record after.
const staleAfter = time.Minute

// lock takes the lock that keeps names and addresses unique.
func (s *Store) lock() (func(), error) {
	path := filepath.Join(s.dir, ".lock")
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { unix.Close(fd) }, nil
}

// Lease gives container id an address on network n: want if valid (--ip),
// else the lowest free one. exists says whether a container still has a
// record, so that the leases of removed containers are taken back.
func (s *Store) Lease(n *Network, id string, want netip.Addr, exists func(id string) bool) (netip.Addr, error) {
	unlock, err := s.lock()
	if err != nil {
		return netip.Addr{}, err
	}
	defer unlock()
	dir := filepath.Join(s.dir, n.Name, "leases")
	taken, err := s.leases(dir, exists)
	if err != nil {
		return netip.Addr{}, err
	}
	if want.IsValid() {
		if err := n.checkIP(want); err != nil {
			return want, err
		}
		if other, ok := taken[want]; ok && other != id {
			return want, fmt.Errorf("--ip %s is in use on network %s: pick another address, or leave --ip out", want, n.Name)
		}
		return want, s.writeLease(dir, want, id)
	}
	for a := n.Subnet.Addr().Next(); n.Subnet.Contains(a) && a != broadcast(n.Subnet); a = a.Next() {
		if _, used := taken[a]; !used && a != n.Gateway {
			return a, s.writeLease(dir, a, id)
		}
	}
	return netip.Addr{}, fmt.Errorf("network %s has no free address in %s: remove containers from it, or use a network with a larger --subnet", n.Name, n.Subnet)
}

func (n *Network) checkIP(a netip.Addr) error {
	if !n.Subnet.Contains(a) || a == n.Subnet.Addr() || a == broadcast(n.Subnet) || a == n.Gateway {
		return fmt.Errorf("--ip %s is not a free host address of network %s (%s, gateway %s): pick one inside it", a, n.Name, n.Subnet, n.Gateway)
	}
	return nil
}

// leases reads dir's leases, removing those of containers gone.
func (s *Store) leases(dir string, exists func(string) bool) (map[netip.Addr]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the leases in %s: %w", dir, err)
	}
	out := map[netip.Addr]string{}
	for _, e := range ents {
		a, err := netip.ParseAddr(e.Name())
		if err != nil {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		id := string(b)
		if exists != nil && !exists(id) {
			if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > staleAfter {
				os.Remove(p)
				continue
			}
		}
		out[a] = id
	}
	return out, nil
}

func (s *Store) writeLease(dir string, a netip.Addr, id string) error {
	p := filepath.Join(dir, a.String())
	if err := os.WriteFile(p+".tmp", []byte(id), 0o600); err != nil {
		return fmt.Errorf("leasing %s: %w", a, err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return fmt.Errorf("leasing %s: %w", a, err)
	}
	return nil
}

// Release gives back container id's addresses on the named networks (all
// of them when names is empty).
func (s *Store) Release(id string, names ...string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if len(names) == 0 {
		all, err := s.List()
		if err != nil {
			return err
		}
		for _, n := range all {
			names = append(names, n.Name)
		}
	}
	for _, name := range names {
		dir := filepath.Join(s.dir, name, "leases")
		taken, err := s.leases(dir, nil)
		if err != nil {
			continue // a network removed meanwhile has no leases
		}
		for a, owner := range taken {
			if owner == id {
				os.Remove(filepath.Join(dir, a.String()))
			}
		}
	}
	return nil
}
