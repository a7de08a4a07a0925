// Package volume keeps named and anonymous volumes: a directory each under
// husk's root (<root>/volumes/NAME), with its metadata and, for the local
// kind, its data in _data, as Docker's local driver lays them out. Volumes
// outlive the containers that use them; which containers use one is the
// caller's to say (the records are store/container's).
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"husk/store"
)

// Volume is one volume as `volume inspect` shows it, Docker's fields.
type Volume struct {
	CreatedAt  string
	Driver     string
	Labels     map[string]string
	Mountpoint string
	Name       string
	Options    map[string]string
	Scope      string
}

// meta is what the store keeps of a volume beyond Docker's fields.
type meta struct {
	Volume
	// Anonymous volumes are removed with their container (rm -v, --rm).
	Anonymous bool `json:"anonymous,omitempty"`
	// Owner is the container an image's VOLUME was made for; Dest where.
	Owner string `json:"owner,omitempty"`
	Dest  string `json:"dest,omitempty"`
}

// Store is the volumes directory <root>/volumes.
type Store struct{ dir string }

// ErrNoSuchVolume is a name that matches no volume.
var ErrNoSuchVolume = errors.New("no such volume")

// Compiled on first use, not at every start of husk.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`) })

// Open opens (making it) the volumes directory under husk's root.
func Open() (*Store, error) {
	root, _, _, err := store.Paths()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "volumes")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the volumes directory %s: %w: set HUSK_ROOT to a directory of yours", dir, err)
	}
	return &Store{dir: dir}, nil
}

// CheckName refuses a name Docker would refuse.
func CheckName(name string) error {
	if !validName().MatchString(name) {
		return fmt.Errorf("invalid volume name %q: use two or more letters, digits, '_', '.' or '-', starting with a letter or digit", name)
	}
	return nil
}

// NewName is an anonymous volume's name: 64 hex digits, as Docker's.
func NewName() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Spec is what a new volume is made with.
type Spec struct {
	Name      string // "" for a generated one
	Labels    map[string]string
	Options   map[string]string // --opt: type, device, o
	Anonymous bool
	Owner     string
	Dest      string
}

// Create makes a volume, or returns the one of that name already there
// (Docker's create is idempotent); created says which.
func (s *Store) Create(sp Spec) (v *Volume, created bool, err error) {
	if sp.Name == "" {
		sp.Name = NewName()
	}
	if err := CheckName(sp.Name); err != nil {
		return nil, false, err
	}
	if err := checkOptions(sp.Options); err != nil {
		return nil, false, err
	}
	if m, err := s.read(sp.Name); err == nil {
		return &m.Volume, false, nil
	}
	m := meta{Volume: Volume{
		CreatedAt: time.Now().Format(time.RFC3339), Driver: "local", Name: sp.Name, Scope: "local",
		Labels: orEmpty(sp.Labels), Options: orEmpty(sp.Options), Mountpoint: filepath.Join(s.dir, sp.Name, "_data"),
	}, Anonymous: sp.Anonymous, Owner: sp.Owner, Dest: sp.Dest}
	tmp, err := os.MkdirTemp(s.dir, ".new-")
	if err != nil {
		return nil, false, fmt.Errorf("creating volume %s in %s: %w", sp.Name, s.dir, err)
	}
	if err := s.fill(tmp, &m); err != nil {
		os.RemoveAll(tmp)
		return nil, false, err
	}
	// Whole or not at all; a racing create of the same name wins.
	if err := os.Rename(tmp, filepath.Join(s.dir, sp.Name)); err != nil {
		os.RemoveAll(tmp)
		if got, rerr := s.read(sp.Name); rerr == nil {
			return &got.Volume, false, nil
		}
		return nil, false, fmt.Errorf("creating volume %s: %w", sp.Name, err)
	}
	return &m.Volume, true, nil
}

func (s *Store) fill(tmp string, m *meta) error {
	if err := os.Mkdir(filepath.Join(tmp, "_data"), 0o755); err != nil {
		return fmt.Errorf("creating volume %s: %w", m.Name, err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "volume.json"), b, 0o600); err != nil {
		return fmt.Errorf("creating volume %s: %w", m.Name, err)
	}
	return nil
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (s *Store) read(name string) (*meta, error) {
	if validName().MatchString(name) {
		b, err := os.ReadFile(filepath.Join(s.dir, name, "volume.json"))
		if err == nil {
			var m meta
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("reading volume %s: %w: remove it (husk volume rm %s)", name, err, name)
			}
			return &m, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNoSuchVolume, name)
}

// Get finds a volume by name.
func (s *Store) Get(name string) (*Volume, error) {
	m, err := s.read(name)
	if err != nil {
		return nil, err
	}
	return &m.Volume, nil
}

// Info is a volume with what husk keeps of it.
type Info struct {
	*Volume
	Anonymous   bool
	Owner, Dest string
}

// List is every volume, by name.
func (s *Store) List() ([]Info, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing volumes in %s: %w", s.dir, err)
	}
	var out []Info
	for _, e := range ents {
		if m, err := s.read(e.Name()); err == nil {
			out = append(out, Info{Volume: &m.Volume, Anonymous: m.Anonymous, Owner: m.Owner, Dest: m.Dest})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a volume and its data. Its files may belong to the
// namespace's other ids: the caller runs in husk's user namespace.
func (s *Store) Remove(name string) error {
	if _, err := s.read(name); err != nil {
		return err
	}
	dir := filepath.Join(s.dir, name)
	// Renamed first, so that a half-removed volume is never seen.
	gone := filepath.Join(s.dir, ".rm-"+name)
	if err := os.Rename(dir, gone); err != nil {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("removing volume %s (%s): %w", name, gone, err)
	}
	return nil
}
