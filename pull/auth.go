package pull

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sys/unix"
)

// ConfigDir is $XDG_CONFIG_HOME/husk, else ~/.config/husk.
func ConfigDir() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "husk")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".config", "husk")
}

// AuthFile is where husk login writes: $REGISTRY_AUTH_FILE, else
// <config>/auth.json.
func AuthFile() string {
	if f := os.Getenv("REGISTRY_AUTH_FILE"); f != "" {
		return f
	}
	return filepath.Join(ConfigDir(), "auth.json")
}

// Keychain looks for credentials in $REGISTRY_AUTH_FILE, then
// <config>/auth.json, then Docker's config (~/.docker/config.json,
// $DOCKER_CONFIG, with its credential helpers): the first with an entry wins.
func Keychain() authn.Keychain {
	var kcs []authn.Keychain
	if f := os.Getenv("REGISTRY_AUTH_FILE"); f != "" {
		kcs = append(kcs, fileKeychain(f))
	}
	kcs = append(kcs, fileKeychain(filepath.Join(ConfigDir(), "auth.json")), authn.DefaultKeychain)
	return authn.NewMultiKeychain(kcs...)
}

// authEntry is one entry of the "auths" map of a Docker config file.
type authEntry struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

type authFile struct {
	Auths map[string]authEntry `json:"auths"`
	rest  map[string]json.RawMessage
}

// readAuthFile reads a Docker-format auth file; a missing one is empty.
func readAuthFile(path string) (*authFile, error) {
	af := &authFile{Auths: map[string]authEntry{}, rest: map[string]json.RawMessage{}}
	b, err := readBounded(path, maxAuthFile)
	if errors.Is(err, os.ErrNotExist) {
		return af, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &af.rest)
	}
	if err == nil && af.rest["auths"] != nil {
		err = json.Unmarshal(af.rest["auths"], &af.Auths)
	}
	if err != nil {
		return nil, fmt.Errorf("reading credentials %s: %w: fix or remove the file", path, err)
	}
	return af, nil
}

type fileKeychain string

// Resolve finds the entry for the repository, else for its registry.
func (f fileKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	af, err := readAuthFile(string(f))
	if err != nil {
		return nil, err
	}
	want := []string{RegistryKey(r.RegistryStr())}
	if repo, ok := r.(name.Repository); ok {
		want = append([]string{want[0] + "/" + repo.RepositoryStr()}, want...)
	}
	for _, w := range want {
		for k, e := range af.Auths {
			if RegistryKey(k) == w && e != (authEntry{}) {
				return authn.FromConfig(authn.AuthConfig{Auth: e.Auth, Username: e.Username,
					Password: e.Password, IdentityToken: e.IdentityToken}), nil
			}
		}
	}
	return authn.Anonymous, nil
}

// RegistryKey normalizes an auths key or a registry name: no scheme, no
// /v1/ path, and Docker Hub's many names as docker.io.
func RegistryKey(k string) string {
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	k = strings.TrimSuffix(strings.TrimSuffix(k, "/"), "/v1")
	switch k {
	case "index.docker.io", "registry-1.docker.io", "docker.io":
		return "docker.io"
	}
	if strings.HasPrefix(k, "index.docker.io/") {
		return "docker.io/" + strings.TrimPrefix(k, "index.docker.io/")
	}
	return k
}

// SaveLogin records user and password for registry in the auth file,
// atomically and with mode 0600, keeping every other entry and key.
func SaveLogin(registry, user, pass string) error {
	return editAuthFile(func(af *authFile) {
		dropKey(af, registry)
		af.Auths[RegistryKey(registry)] = authEntry{Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
	})
}

// RemoveLogin drops the entry of registry ("" for all). It reports whether
// there was one.
func RemoveLogin(registry string) (found bool, err error) {
	err = editAuthFile(func(af *authFile) {
		n := len(af.Auths)
		if registry == "" {
			af.Auths = map[string]authEntry{}
		} else {
			dropKey(af, registry)
		}
		found = len(af.Auths) < n
	})
	return found, err
}

func dropKey(af *authFile, registry string) {
	for k := range af.Auths {
		if RegistryKey(k) == RegistryKey(registry) {
			delete(af.Auths, k)
		}
	}
}

// editAuthFile reads, edits and replaces the auth file under a lock on a
// file beside it, so that two logins at once keep both entries.
func editAuthFile(edit func(*authFile)) error {
	path := AuthFile()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing credentials %s: %w", path, err)
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("locking credentials %s: %w", path, err)
	}
	defer unlock()
	af, err := readAuthFile(path)
	if err != nil {
		return err
	}
	edit(af)
	auths, _ := json.Marshal(af.Auths)
	af.rest["auths"] = auths
	b, _ := json.MarshalIndent(af.rest, "", "\t")
	tmp, err := os.CreateTemp(filepath.Dir(path), ".auth-*.json")
	if err != nil {
		return fmt.Errorf("writing credentials %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path) // CreateTemp made it 0600
	}
	if err != nil {
		return fmt.Errorf("writing credentials %s: %w", path, err)
	}
	return nil
}

// lockFile takes an exclusive lock on path (made if missing); the returned
// function releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
