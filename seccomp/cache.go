package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// CachedBPF is CompileBPF with a cache in dir (husk's private run
// directory): libseccomp takes some 25 ms to compile Docker's profile,
// longer than the rest of a sandbox's start. The key is the profile itself
// and the libseccomp version, so another profile or library compiles anew.
func CachedBPF(p *specs.LinuxSeccomp, dir string) ([]byte, error) {
	key, err := cacheKey(p)
	if err != nil {
		return CompileBPF(p)
	}
	path := filepath.Join(dir, key+".bpf")
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return b, nil
	}
	b, err := CompileBPF(p)
	if err != nil {
		return nil, err
	}
	// A failed write only costs the next start a compile.
	_ = writeAtomic(dir, path, b)
	return b, nil
}

func cacheKey(p *specs.LinuxSeccomp) (string, error) {
	j, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	major, minor, micro := libVersion()
	h := sha256.New()
	fmt.Fprintf(h, "libseccomp %d.%d.%d\n", major, minor, micro)
	h.Write(j)
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

func writeAtomic(dir, path string, b []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return renameio.WriteFile(path, b, 0o600, renameio.WithTempDir(dir))
}

func libVersion() (uint, uint, uint) { return libseccomp.GetLibraryVersion() }
