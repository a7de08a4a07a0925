package integration

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// configID is what husk calls the image ID: the config digest's hex.
func configID(t *testing.T, img v1.Image) string {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.Hex
}

func manifestDigest(t *testing.T, img v1.Image) string {
	t.Helper()
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// wantOnlyImage checks `husk images -q` lists exactly img.
func wantOnlyImage(t *testing.T, e *env, img v1.Image) {
	t.Helper()
	ids := e.imageIDs()
	if want := configID(t, img)[:12]; len(ids) != 1 || ids[0] != want {
		t.Errorf("husk images -q = %q, want [%s]", ids, want)
	}
}

func TestPullPlainHTTP(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	wantOnlyImage(t, e, images.Busybox)
	out := e.inImage(ref, `stat -c '%s %a' bin/busybox; readlink bin/sh; cat etc/passwd`).stdout
	if !strings.Contains(out, "755") || !strings.Contains(out, "\nbusybox\n") || !strings.Contains(out, "tester:x:1000:1000") {
		t.Errorf("busybox image content:\n%s", out)
	}
}

func TestPullQuiet(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	r := e.ok("pull", "-q", ref)
	if l := lines(r.stdout); len(l) != 1 || l[0] != ref {
		t.Errorf("pull -q: want only the reference on stdout: %s", r)
	}
	if len(lines(r.stderr)) != notices(r.stderr) {
		t.Errorf("pull -q: want no progress on stderr: %s", r)
	}
}

func TestPullByDigest(t *testing.T) {
	e := newEnv(t)
	d := manifestDigest(t, images.Busybox)
	ref := plain.Ref("busybox@" + d)
	r := e.ok("pull", ref)
	if l := lines(r.stdout); len(l) == 0 || !strings.Contains(l[len(l)-1], d) {
		t.Errorf("pull by digest: want the reference with %s as the last line: %s", d, r)
	}
	wantOnlyImage(t, e, images.Busybox)
}

// Over TLS with the harness CA in certs.d, after husk login.
func TestPullTLSAfterLogin(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	r := e.runInput(secure.Password+"\n", "login", "-u", secure.User, "--password-stdin", secure.Addr)
	if r.code != 0 || !strings.Contains(r.stdout, "Login Succeeded") {
		t.Fatalf("login: %s", r)
	}
	e.pull(secure.Ref("busybox:latest"))
	wantOnlyImage(t, e, images.Busybox)
}

func dockerAuth(addr, user, pass string) []byte {
	cfg := map[string]any{"auths": map[string]any{
		addr: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))},
	}}
	data, _ := json.Marshal(cfg)
	return data
}

// Credentials from ~/.docker/config.json, as Docker wrote them.
func TestPullDockerConfigCredentials(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	e.writeFile(".docker/config.json", dockerAuth(secure.Addr, secure.User, secure.Password), 0o600)
	e.pull(secure.Ref("busybox:latest"))
	wantOnlyImage(t, e, images.Busybox)
}

// Credentials from $REGISTRY_AUTH_FILE, as podman and skopeo use it.
func TestPullRegistryAuthFile(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	e.vars["REGISTRY_AUTH_FILE"] = e.writeFile("elsewhere/auth.json", dockerAuth(secure.Addr, secure.User, secure.Password), 0o600)
	e.pull(secure.Ref("busybox:latest"))
	wantOnlyImage(t, e, images.Busybox)
}

// The multi-layer image: owners, setuid, big file, links, whiteouts and
// the opaque directory survive the pull, over plain HTTP and TLS.
func TestPullLayers(t *testing.T) {
	for _, tc := range []struct {
		name string
		reg  *Registry
	}{{"plain", plain}, {"tls", secure}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.reg == secure {
				e.trustCA()
				e.writeFile(".config/husk/auth.json", dockerAuth(secure.Addr, secure.User, secure.Password), 0o600)
			}
			ref := tc.reg.Ref("layers:latest")
			r := e.pull(ref)
			checkNotice(t, r)
			wantOnlyImage(t, e, images.Layers)
			checkLayersImage(t, e, ref)
		})
	}
}

func archImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	im, err := images.Multiarch.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Architecture == arch {
			img, err := images.Multiarch.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("no %s image in the index", arch)
	return nil
}

// An image index resolves to the host's platform, or to --platform.
func TestPullPlatform(t *testing.T) {
	for _, tc := range []struct {
		name, arch string
		flags      []string
	}{
		{"default", runtime.GOARCH, nil},
		{"arm64", "arm64", []string{"--platform", "linux/arm64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.arch != "amd64" && tc.arch != "arm64" {
				skipOrFail(t, "the test index has no %s image", tc.arch)
			}
			e := newEnv(t)
			ref := plain.Ref("multiarch:latest")
			e.pull(ref, tc.flags...)
			wantOnlyImage(t, e, archImage(t, tc.arch))
			if got := strings.TrimSpace(e.ok("image", "inspect", "--format", "{{.Architecture}}", ref).stdout); got != tc.arch {
				t.Errorf("image inspect Architecture = %q, want %q", got, tc.arch)
			}
			out := e.ok("unshare", "sh", "-c", `cat "$(husk image mount "$1")"/arch`, "sh", ref).stdout
			if strings.TrimSpace(out) != tc.arch {
				t.Errorf("/arch = %q, want %q", out, tc.arch)
			}
		})
	}
}

// A second pull of a present image fetches no layer again.
func TestPullAgainFetchesNothing(t *testing.T) {
	e := newEnv(t)
	p := newProxy(t, plain, 0)
	ref := p.Ref("layers:latest")
	e.pull(ref)
	first := p.Fetched()
	layers := layerDigests(t, images.Layers)
	for _, l := range layers {
		if !contains(first, l) {
			t.Errorf("first pull: layer %s was not fetched (fetched %q)", l, first)
		}
	}
	e.pull(ref)
	for _, got := range p.Fetched() {
		if contains(layers, got) {
			t.Errorf("second pull fetched layer %s again", got)
		}
	}
	wantOnlyImage(t, e, images.Layers)
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if !contains(out, d.String()) {
			out = append(out, d.String())
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The store is where the contract says: ~/.local/share/husk by default.
func TestPullStoreLocation(t *testing.T) {
	e := newEnv(t)
	e.pull(plain.Ref("busybox:latest"))
	matches, _ := filepath.Glob(filepath.Join(e.home, ".local/share/husk/storage", "*"))
	if len(matches) == 0 {
		t.Errorf("no store under %s", filepath.Join(e.home, ".local/share/husk/storage"))
	}
}
