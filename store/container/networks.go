package container

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"husk/network"
	"husk/sandbox"
	"husk/store/usernet"
)

// leaseAddresses gives a new container its addresses on the user-defined
// networks its config joins (the --ip asked for, or the next free one),
// and the names the networks' DNS answers for it.
func (s *Store) leaseAddresses(r *Record, cfg *sandbox.Config) error {
	if len(cfg.Network.Networks) == 0 {
		return nil
	}
	ns, err := usernet.Open()
	if err != nil {
		return err
	}
	for i := range cfg.Network.Networks {
		a := &cfg.Network.Networks[i]
		if a.Claimed {
			a.Names = []string{r.Name, r.ID[:12]}
			continue
		}
		if err := s.lease(ns, r.ID, a); err != nil {
			releaseAddresses(r.ID)
			return err
		}
		a.Names = []string{r.Name, r.ID[:12]}
	}
	return nil
}

func (s *Store) lease(ns *usernet.Store, id string, a *network.Attachment) error {
	un, err := ns.Get(a.Network)
	if err != nil {
		return err
	}
	a.IP, err = ns.Lease(un, id, a.IP, s.exists)
	return err
}

// exists says whether a container has a record.
func (s *Store) exists(id string) bool {
	_, err := os.Stat(filepath.Join(s.dir, id, "record.json"))
	return err == nil
}

// releaseAddresses gives back a container's addresses on every network.
func releaseAddresses(id string) {
	if ns, err := usernet.Open(); err == nil {
		_ = ns.Release(id)
	}
}

// NetworkUsers maps each user-defined network's name to the names of the
// containers that join it, running or not.
func (s *Store) NetworkUsers() (map[string][]string, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, c := range all {
		for _, a := range c.Config.Network.Networks {
			users[a.Network] = append(users[a.Network], c.Name)
		}
	}
	return users, nil
}

// Connect adds a user-defined network to a container's config, with an
// address leased on it; it takes effect at the container's next start.
func (s *Store) Connect(id string, a network.Attachment) (*Container, error) {
	return s.changeConfig(id, func(c *Container) error {
		for _, have := range c.Config.Network.Networks {
			if have.ID == a.ID {
				return fmt.Errorf("container %s is already connected to network %s", c.Name, a.Network)
			}
		}
		switch c.Config.Network.Mode {
		case "host", "none":
			return fmt.Errorf("container %s has --network %s: it cannot join another network", c.Name, c.Config.Network.Mode)
		}
		ns, err := usernet.Open()
		if err != nil {
			return err
		}
		if err := s.lease(ns, c.ID, &a); err != nil {
			return err
		}
		a.Names = []string{c.Name, c.ID[:12]}
		if len(c.Config.Network.Networks) == 0 {
			c.Config.Network.Mode = a.Network
		}
		c.Config.Network.Networks = append(c.Config.Network.Networks, a)
		return nil
	})
}

// Disconnect takes a user-defined network out of a container's config and
// gives its address back. A container left with none goes back to the
// builtin network, as Docker's goes back to no network.
func (s *Store) Disconnect(id, name string) (*Container, error) {
	return s.changeConfig(id, func(c *Container) error {
		n := c.Config.Network.Networks
		i := slices.IndexFunc(n, func(a network.Attachment) bool { return a.Network == name })
		if i < 0 {
			return fmt.Errorf("container %s is not connected to network %s", c.Name, name)
		}
		c.Config.Network.Networks = slices.Delete(n, i, i+1)
		if ns, err := usernet.Open(); err == nil {
			_ = ns.Release(c.ID, name)
		}
		if len(c.Config.Network.Networks) == 0 {
			c.Config.Network.Mode = network.Builtin
		} else {
			c.Config.Network.Mode = c.Config.Network.Networks[0].Network
		}
		return nil
	})
}

// changeConfig changes a container's config under its lock.
func (s *Store) changeConfig(id string, fn func(*Container) error) (*Container, error) {
	dir := filepath.Join(s.dir, id)
	unlock, err := flock(filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := s.load(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %.12s was removed", ErrNoSuchContainer, id)
	}
	if err := fn(c); err != nil {
		return c, err
	}
	return c, writeJSON(filepath.Join(dir, "config.json"), c.Config)
}
