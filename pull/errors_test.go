package pull

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// get runs the first request of a pull against srv and explains its error.
func get(t *testing.T, srv *httptest.Server, repo string, auth authn.Authenticator) error {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	ref, err := name.ParseReference(u.Host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := Transport(u.Host, true)
	_, err = remote.Get(ref, remote.WithContext(context.Background()), remote.WithTransport(rt), remote.WithAuth(auth))
	if err == nil {
		return nil
	}
	return explain(err, u.Host, ref.Identifier(), auth != authn.Anonymous)
}

func TestExplainUnknownAndUnauthorized(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	if err := get(t, srv, "nope:v1", authn.Anonymous); err == nil || !strings.Contains(err.Error(), `the tag "v1" does not exist`) {
		t.Errorf("unknown: %v", err)
	}
	deny := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer deny.Close()
	err := get(t, deny, "x", &authn.Basic{Username: "u", Password: "wrong"})
	if err == nil || !strings.Contains(err.Error(), "check the user name and password, or run husk login") {
		t.Errorf("unauthorized: %v", err)
	}
}

func TestExplainDownAndTLS(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	srv.Close()
	if err := get(t, srv, "x", authn.Anonymous); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("down: %v", err)
	}
	tlsSrv := httptest.NewTLSServer(registry.New())
	defer tlsSrv.Close()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	err := get(t, tlsSrv, "x", authn.Anonymous)
	if err == nil || !strings.Contains(err.Error(), "certs.d") || !strings.Contains(err.Error(), "--tls-verify=false") {
		t.Errorf("TLS: %v", err)
	}
}

func TestPullableImage(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	img, _ := random.Image(100, 2)
	ref, _ := name.ParseReference(u.Host + "/img:t")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	if err := get(t, srv, "img:t", authn.Anonymous); err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	cfg, _ := img.ConfigFile()
	ls, err := layerInfos(m, cfg)
	if err != nil || len(ls) != 2 || ls[1].Parent != ls[0].ChainID || ls[0].ChainID != cfg.RootFS.DiffIDs[0].Hex {
		t.Fatalf("layerInfos: %+v %v", ls, err)
	}
}

func TestKeychainOrder(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("HOME", dir)
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "docker"))
	first := filepath.Join(dir, "first.json")
	t.Setenv("REGISTRY_AUTH_FILE", first)
	if err := SaveLogin("127.0.0.1:5000", "alice", "one"); err != nil {
		t.Fatal(err)
	}
	os.Setenv("REGISTRY_AUTH_FILE", "")
	if err := SaveLogin("127.0.0.1:5000", "bob", "two"); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "husk", "auth.json")); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("auth.json mode: %v", fi)
	}
	t.Setenv("REGISTRY_AUTH_FILE", first)
	repo, _ := name.NewRepository("127.0.0.1:5000/x")
	a, err := Keychain().Resolve(repo)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := a.Authorization()
	if got := decodeUser(cfg); got != "alice" {
		t.Fatalf("user = %q, want alice from $REGISTRY_AUTH_FILE", got)
	}
	if found, _ := RemoveLogin("127.0.0.1:5000"); !found {
		t.Fatal("logout found no entry")
	}
}

func decodeUser(c *authn.AuthConfig) string {
	if c.Username != "" {
		return c.Username
	}
	b, _ := base64Decode(c.Auth)
	return strings.SplitN(b, ":", 2)[0]
}

func TestRegistryKey(t *testing.T) {
	for in, want := range map[string]string{
		"https://index.docker.io/v1/": "docker.io", "docker.io": "docker.io", "index.docker.io": "docker.io",
		"127.0.0.1:5000": "127.0.0.1:5000", "http://127.0.0.1:5000/": "127.0.0.1:5000",
	} {
		if got := RegistryKey(in); got != want {
			t.Errorf("RegistryKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func base64Decode(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}
