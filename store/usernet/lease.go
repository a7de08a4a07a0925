package usernet

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
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
		if other, ok := taken[want]; ok && other != id && !takeReservation(dir, want, other, id) {
			return want, fmt.Errorf("--ip %s is in use on network %s: pick another address, or leave --ip out", want, n.Name)
		}
		return want, writeLease(dir, want, id)
	}
	for a := n.Subnet.Addr().Next(); n.Subnet.Contains(a) && a != broadcast(n.Subnet); a = a.Next() {
		if _, used := taken[a]; !used && a != n.Gateway {
			return a, writeLease(dir, a, id)
		}
	}
	for a, owner := range taken {
		if takeReservation(dir, a, owner, id) {
			return a, nil
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
		if exists != nil && !Reservation(id) && !exists(id) {
			if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > staleAfter {
				os.Remove(p)
				continue
			}
		}
		out[a] = id
	}
	return out, nil
}

func writeLease(dir string, a netip.Addr, id string) error {
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

// A reservation is a lease that a prelaunch's launch holds for the runs
// that follow it (start.Prelaunchable): the address is claimed run by run
// by locking its lease file (prelaunch.c's claim), not by a new lease.
// Its owner is the launch's file name, never a container ID.
const reservationPrefix = "launch-"

// Reservation says whether a lease's owner is a launch's reservation.
func Reservation(owner string) bool { return strings.HasPrefix(owner, reservationPrefix) }

// takeReservation gives the reserved address a in dir to container id
// (back to the free ones when id is empty) when no run holds it: a lease asked for by --ip, or when no other
// address is free. The launch's next run then finds the lease changed and
// takes the usual path.
func takeReservation(dir string, a netip.Addr, owner, id string) bool {
	if !Reservation(owner) {
		return false
	}
	fd, err := unix.Open(filepath.Join(dir, a.String()), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false
	}
	if id == "" {
		return os.Remove(filepath.Join(dir, a.String())) == nil
	}
	return writeLease(dir, a, id) == nil
}

// Reserve turns container id's lease of address a on network n into the
// reservation of the launch named launch (see Reservation), locked for as
// long as the file returned stays open: the run that writes a launch
// keeps it for its own sandbox's life. The launch's earlier reservation,
// when no run holds it, is given back. It returns the lease file's path
// and the reservation's owner.
func (s *Store) Reserve(n *Network, a netip.Addr, id, launch string) (path, owner string, held *os.File, err error) {
	unlock, err := s.lock()
	if err != nil {
		return "", "", nil, err
	}
	defer unlock()
	dir := filepath.Join(s.dir, n.Name, "leases")
	taken, err := s.leases(dir, nil)
	if err != nil {
		return "", "", nil, err
	}
	if taken[a] != id {
		return "", "", nil, fmt.Errorf("reserving %s on network %s: it is not leased to %.12s", a, n.Name, id)
	}
	for old, o := range taken {
		if o == launch {
			takeReservation(dir, old, o, "")
		}
	}
	path = filepath.Join(dir, a.String())
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(launch), 0o600); err != nil {
		return "", "", nil, fmt.Errorf("reserving %s: %w", a, err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			err = os.Rename(tmp, path)
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.Remove(tmp)
		return "", "", nil, fmt.Errorf("reserving %s: %w", a, err)
	}
	return path, launch, f, nil
}

// DefinitionPath is network name's definition file, whose change voids a
// launch on it.
func (s *Store) DefinitionPath(name string) string {
	return filepath.Join(s.dir, name, "network.json")
}
