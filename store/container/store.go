package container

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"husk/sandbox"
)

// Store is the containers directory <root>/containers.
type Store struct{ dir string }

// Open opens (making it) the containers directory under husk's root.
func Open(root string) (*Store, error) {
	dir := filepath.Join(root, "containers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the containers directory %s: %w: set HUSK_ROOT to a directory of yours", dir, err)
	}
	return &Store{dir: dir}, nil
}

// ErrNoSuchContainer is a name or ID that matches nothing.
var ErrNoSuchContainer = errors.New("no such container")

// Compiled on first use, not at every start of husk.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// lock takes the store-wide lock that keeps names unique: create, rename
// and remove hold it while they change the set of names.
func (s *Store) lock() (func(), error) {
	return flock(filepath.Join(s.dir, ".lock"))
}

func flock(path string) (func(), error) {
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

// Create writes a new container's record and config with the state
// "created". An empty name gets a generated one; a taken name is refused.
func (s *Store) Create(r *Record, cfg *sandbox.Config) (*Container, error) {
	return s.create(r, cfg, State{Status: Created})
}

// CreateHeld is Create for a container whose start this process supervises
// itself (a foreground run): the record names this process from its first
// write, so that a --rm record whose husk was killed before the container
// was marked running is as good as removed, as a running one is.
func (s *Store) CreateHeld(r *Record, cfg *sandbox.Config) (*Container, error) {
	pid := os.Getpid()
	return s.create(r, cfg, State{Status: Created, MonitorPID: pid, MonitorStart: StartTime(pid)})
}

func (s *Store) create(r *Record, cfg *sandbox.Config, st State) (*Container, error) {
	if r.Name != "" && !validName().MatchString(r.Name) {
		return nil, fmt.Errorf("invalid container name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", r.Name)
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
	taken := map[string]string{}
	for _, c := range all {
		taken[c.Name] = c.ID
	}
	s.sweepAbandoned()
	if id, ok := taken[r.Name]; ok {
		return nil, fmt.Errorf("the container name %q is already in use by container %.12s: remove it (husk rm) or choose another name", r.Name, id)
	}
	if r.ID == "" {
		r.ID = newID()
	}
	if r.Name == "" {
		r.Name = generateName(taken)
	}
	r.Created = time.Now().UTC()
	cfg.Version = sandbox.ConfigVersion
	if err := s.leaseAddresses(r, cfg); err != nil {
		return nil, err
	}
	c := &Container{Record: *r, State: st, Config: cfg, dir: filepath.Join(s.dir, r.ID)}
	if err := s.write(c); err != nil {
		releaseAddresses(r.ID)
		return nil, err
	}
	return c, nil
}

// write writes a new container's files, the record last: a directory
// without one is not a container yet.
func (s *Store) write(c *Container) error {
	if err := os.Mkdir(c.dir, 0o700); err != nil {
		return fmt.Errorf("creating the container directory %s: %w", c.dir, err)
	}
	for name, v := range map[string]any{"config.json": c.Config, "state.json": &c.State} {
		if err := writeJSON(filepath.Join(c.dir, name), v); err != nil {
			os.RemoveAll(c.dir)
			return err
		}
	}
	if err := writeJSON(filepath.Join(c.dir, "record.json"), &c.Record); err != nil {
		os.RemoveAll(c.dir)
		return err
	}
	return nil
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// List reads every container, oldest first.
func (s *Store) List() ([]*Container, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing containers in %s: %w", s.dir, err)
	}
	var out []*Container
	for _, e := range entries {
		if !e.IsDir() || len(e.Name()) != 64 {
			continue
		}
		c, err := s.load(e.Name())
		if err != nil || c.abandoned {
			continue // removed meanwhile, not finished being created, or gone with --rm
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

func (s *Store) load(id string) (*Container, error) {
	c := &Container{dir: filepath.Join(s.dir, id)}
	if err := readJSON(filepath.Join(c.dir, "record.json"), &c.Record); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(c.dir, "state.json"), &c.State); err != nil {
		return nil, err
	}
	c.readConfig()
	c.settle()
	return c, nil
}

// settle shows a container whose monitor is gone (killed, or the machine
// rebooted) as exited, as Docker shows one after a daemon crash.
func (c *Container) settle() {
	if c.State.Status == Created && c.MonitorPID != 0 && !alive(c.MonitorPID, c.MonitorStart) {
		// A foreground run's husk died before it marked the container
		// running (a prelaunched sandbox runs before that): its sandbox
		// died with it.
		c.abandoned = c.Config.AutoRemove
	}
	if (c.State.Status == Running || c.State.Status == Restarting) && !alive(c.MonitorPID, c.MonitorStart) {
		// A --rm container keeps nothing outside its record (its upper
		// layer was in its sandbox's tmpfs): it is as good as removed.
		c.abandoned = c.Config.AutoRemove
		c.State.Status = Exited
		if c.FinishedAt.IsZero() {
			c.ExitCode = 137
			c.FinishedAt = time.Now().UTC()
		}
	}
}

// sweepAbandoned removes the records of --rm containers whose monitor died
// before it could; the caller holds the store's lock.
func (s *Store) sweepAbandoned() {
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		if !e.IsDir() || len(e.Name()) != 64 {
			continue
		}
		if c, err := s.load(e.Name()); err == nil && c.abandoned {
			_ = os.Remove(filepath.Join(c.dir, "record.json"))
			_ = os.RemoveAll(c.dir)
		}
	}
}

// Find resolves a full ID, a name, or a unique prefix of an ID, as Docker does.
func (s *Store) Find(q string) (*Container, error) {
	// A full ID, as husk's own processes pass it: one record to read, not all.
	if len(q) == 64 && !strings.ContainsAny(q, "./") {
		if c, err := s.load(q); err == nil && !c.abandoned {
			return c, nil
		}
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var byPrefix []*Container
	for _, c := range all {
		if c.ID == q || c.Name == q {
			return c, nil
		}
		if q != "" && strings.HasPrefix(c.ID, q) {
			byPrefix = append(byPrefix, c)
		}
	}
	switch len(byPrefix) {
	case 1:
		return byPrefix[0], nil
	case 0:
		return nil, fmt.Errorf("%w: %s: see 'husk ps -a'", ErrNoSuchContainer, q)
	}
	return nil, fmt.Errorf("container ID prefix %q is ambiguous (%d containers match): give more of the ID", q, len(byPrefix))
}

// Update changes a container's state under its own lock, reading the
// latest state first, and returns it.
func (s *Store) Update(id string, fn func(*State) error) (*Container, error) {
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
	if err := fn(&c.State); err != nil {
		return c, err
	}
	return c, writeJSON(filepath.Join(dir, "state.json"), &c.State)
}

// Describe records the image and command of a container whose init
// resolved them (a foreground run does not know them before).
func (s *Store) Describe(id, imageID string, command []string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	c, err := s.load(id)
	if err != nil {
		return fmt.Errorf("%w: %.12s was removed", ErrNoSuchContainer, id)
	}
	if err := c.Runnable(); err != nil {
		return err
	}
	c.Config.ImageID, c.Command = imageID, command
	if err := writeJSON(filepath.Join(c.dir, "config.json"), c.Config); err != nil {
		return err
	}
	return writeJSON(filepath.Join(c.dir, "record.json"), &c.Record)
}

// Rename gives a container a new name, unique among all.
func (s *Store) Rename(q, name string) error {
	if !validName().MatchString(name) {
		return fmt.Errorf("invalid container name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	c, err := s.Find(q)
	if err != nil {
		return err
	}
	if other, err := s.Find(name); err == nil && other.Name == name {
		return fmt.Errorf("the container name %q is already in use by container %.12s: choose another name", name, other.ID)
	}
	c.Record.Name = name
	if err := writeJSON(filepath.Join(c.dir, "record.json"), &c.Record); err != nil {
		return err
	}
	// The networks' DNS answers the new name from the next start on.
	if len(c.Config.Network.Networks) == 0 {
		return nil
	}
	_, err = s.changeConfig(c.ID, func(c *Container) error {
		for i := range c.Config.Network.Networks {
			c.Config.Network.Networks[i].Names = []string{name, c.ID[:12]}
		}
		return nil
	})
	return err
}

// Forget removes the container's record, so no verb finds it any more; its
// directory goes with it. Files there that belong to ids of the user
// namespace must already be gone (see the caller).
func (s *Store) Forget(id string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	dir := filepath.Join(s.dir, id)
	// The record first: from then on no verb finds the container, even if
	// the rest of the removal fails halfway.
	if err := os.Remove(filepath.Join(dir, "record.json")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("removing container %.12s: %w", id, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing container directory %s: %w", dir, err)
	}
	releaseAddresses(id)
	return nil
}
