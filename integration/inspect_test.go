package integration

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// inspected is the part of `husk image inspect` the tests read.
type inspected struct {
	Id           string
	RepoTags     []string
	RepoDigests  []string
	Created      string
	Architecture string
	Os           string
	Config       struct {
		Env        []string
		Cmd        []string
		WorkingDir string
		Labels     map[string]string
	}
	RootFS struct {
		Type   string
		Layers []string
	}
	Size int64
}

func inspect(t *testing.T, e *env, refs ...string) []inspected {
	t.Helper()
	r := e.ok(append([]string{"image", "inspect"}, refs...)...)
	var out []inspected
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("image inspect: not a JSON array: %v: %s", err, r)
	}
	if len(out) != len(refs) {
		t.Fatalf("image inspect of %d images gave %d", len(refs), len(out))
	}
	return out
}

func diffIDs(t *testing.T, img v1.Image) []string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range cf.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out
}

func TestImageInspect(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	got := inspect(t, e, ref)[0]
	if want := "sha256:" + configID(t, images.Busybox); got.Id != want {
		t.Errorf("Id = %q, want %q", got.Id, want)
	}
	if !contains(got.RepoTags, ref) {
		t.Errorf("RepoTags = %q, want %s", got.RepoTags, ref)
	}
	if want := plain.Addr + "/busybox@" + manifestDigest(t, images.Busybox); !contains(got.RepoDigests, want) {
		t.Errorf("RepoDigests = %q, want %s", got.RepoDigests, want)
	}
	if got.Architecture != "amd64" || got.Os != "linux" {
		t.Errorf("platform = %s/%s, want linux/amd64", got.Os, got.Architecture)
	}
	if !strings.HasPrefix(got.Created, "2024-01-02T03:04:05") {
		t.Errorf("Created = %q, want 2024-01-02T03:04:05Z", got.Created)
	}
	if strings.Join(got.Config.Cmd, " ") != "sh" || got.Config.WorkingDir != "/" ||
		got.Config.Labels["org.husk.test"] != "busybox" || len(got.Config.Env) != 1 || !strings.HasPrefix(got.Config.Env[0], "PATH=") {
		t.Errorf("Config = %+v", got.Config)
	}
	if got.RootFS.Type != "layers" || strings.Join(got.RootFS.Layers, " ") != strings.Join(diffIDs(t, images.Busybox), " ") {
		t.Errorf("RootFS = %+v, want layers %q", got.RootFS, diffIDs(t, images.Busybox))
	}
	if got.Size <= 0 {
		t.Errorf("Size = %d", got.Size)
	}

	// By ID, and with a template.
	if got := strings.TrimSpace(e.ok("image", "inspect", "--format", "{{.Id}} {{.Os}}/{{.Architecture}}", configID(t, images.Busybox)[:12]).stdout); got != "sha256:"+configID(t, images.Busybox)+" linux/amd64" {
		t.Errorf("inspect --format by ID = %q", got)
	}
}

// The layers image lists all three diff IDs, the empty layer's too, and
// its size counts the 100 MB file.
func TestImageInspectLayers(t *testing.T) {
	e := newEnv(t)
	e.pull(plain.Ref("busybox:latest"))
	e.pull(plain.Ref("layers:latest"))
	both := inspect(t, e, plain.Ref("layers:latest"), plain.Ref("busybox:latest"))
	got := both[0]
	if want := diffIDs(t, images.Layers); strings.Join(got.RootFS.Layers, " ") != strings.Join(want, " ") {
		t.Errorf("RootFS.Layers = %q, want %q", got.RootFS.Layers, want)
	}
	if got.Size < BigFileSize {
		t.Errorf("Size = %d, want at least %d", got.Size, BigFileSize)
	}
	if both[1].Id != "sha256:"+configID(t, images.Busybox) {
		t.Errorf("second of two: Id %q", both[1].Id)
	}
}

func TestImageInspectUnknown(t *testing.T) {
	e := newEnv(t)
	e.wantError(e.run("image", "inspect", plain.Ref("nothing:here")))
}
