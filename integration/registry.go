package integration

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// RegistryBinary is Debian's docker-registry (the CNCF distribution registry).
const RegistryBinary = "/usr/bin/docker-registry"

// Registry is one docker-registry process on 127.0.0.1, serving from a
// filesystem store in Dir.
type Registry struct {
	Addr     string // 127.0.0.1:PORT
	Dir      string // config, certificates, htpasswd, log, storage
	CA       *CA    // nil for plain HTTP
	User     string // basic auth, when CA is set
	Password string
	cmd      *exec.Cmd
	done     chan error
}

// RegistryOptions: a CA turns on TLS with htpasswd basic auth for User.
type RegistryOptions struct {
	CA       *CA
	User     string
	Password string
}

// StartRegistry starts docker-registry in dir (which it owns and removes on
// Stop) on a free port, and waits until it answers /v2/.
func StartRegistry(dir string, opt RegistryOptions) (*Registry, error) {
	if _, err := os.Stat(RegistryBinary); err != nil {
		return nil, fmt.Errorf("%s is missing: install docker-registry (sudo apt-get install docker-registry): %w", RegistryBinary, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r := &Registry{Dir: dir, CA: opt.CA, User: opt.User, Password: opt.Password}
	var lastErr error
	// A free port can be taken between our probe and the registry's
	// listen: try a few.
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		r.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		if lastErr = r.start(); lastErr == nil {
			return r, nil
		}
	}
	return nil, lastErr
}

// FreePort returns a loopback TCP port that nothing listened on just now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (r *Registry) writeConfig() (string, error) {
	storage := filepath.Join(r.Dir, "storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: husk-integration-secret
`, storage, r.Addr)
	if r.CA != nil {
		cert, key, err := r.CA.ServerCert()
		if err != nil {
			return "", err
		}
		// The registry checks the hash on every request: the lowest cost keeps
		// the suite fast, and the password is a throw-away.
		hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
		if err != nil {
			return "", err
		}
		files := map[string][]byte{
			"server.crt": cert, "server.key": key, "ca.crt": r.CA.CertPEM,
			"htpasswd": []byte(r.User + ":" + string(hash) + "\n"),
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(r.Dir, name), data, 0o600); err != nil {
				return "", err
			}
		}
		cfg += fmt.Sprintf(`  tls:
    certificate: %s
    key: %s
auth:
  htpasswd:
    realm: husk-integration
    path: %s
`, filepath.Join(r.Dir, "server.crt"), filepath.Join(r.Dir, "server.key"), filepath.Join(r.Dir, "htpasswd"))
	}
	path := filepath.Join(r.Dir, "config.yml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

func (r *Registry) start() error {
	cfg, err := r.writeConfig()
	if err != nil {
		return err
	}
	log, err := os.OpenFile(filepath.Join(r.Dir, "registry.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(RegistryBinary, "serve", cfg)
	cmd.Stdout, cmd.Stderr = log, log
	// docker-registry reads REGISTRY_* variables as configuration (a user's
	// REGISTRY_AUTH_FILE would become auth.file): give it none.
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + r.Dir}
	// It must not outlive a test binary that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", RegistryBinary, err)
	}
	r.cmd = cmd
	r.done = make(chan error, 1)
	go func() { r.done <- cmd.Wait() }()
	if err := r.waitReady(15 * time.Second); err != nil {
		r.stopProcess()
		logText, _ := os.ReadFile(filepath.Join(r.Dir, "registry.log"))
		return fmt.Errorf("docker-registry on %s: %w; its log:\n%s", r.Addr, err, logText)
	}
	return nil
}

// URL is the registry's base URL.
func (r *Registry) URL() string {
	if r.CA != nil {
		return "https://" + r.Addr
	}
	return "http://" + r.Addr
}

// Transport trusts the harness CA (for the TLS registry).
func (r *Registry) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if r.CA != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: r.CA.Pool()}
	}
	return t
}

func (r *Registry) waitReady(timeout time.Duration) error {
	client := &http.Client{Transport: r.Transport(), Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("exited before it served: %v", err)
		default:
		}
		resp, err := client.Get(r.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			// 401 is ready too: the TLS registry wants basic auth.
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
			err = fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not serving after %s: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *Registry) stopProcess() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
}

// Stop ends the registry (by its PID) and removes its directory.
func (r *Registry) Stop() error {
	r.stopProcess()
	return os.RemoveAll(r.Dir)
}

// BlobPath is where the registry's filesystem driver keeps a blob's bytes.
func (r *Registry) BlobPath(digestHex string) string {
	return filepath.Join(r.Dir, "storage", "docker", "registry", "v2", "blobs", "sha256", digestHex[:2], digestHex, "data")
}

// CorruptBlob overwrites a blob with different bytes of the same length, so
// that its digest no longer matches.
func (r *Registry) CorruptBlob(digestHex string) error {
	path := r.BlobPath(digestHex)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return errors.New("empty blob")
	}
	for i := range data {
		data[i] ^= 0xA5
	}
	return os.WriteFile(path, data, 0o644)
}
