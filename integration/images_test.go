package integration

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// columns splits a table line on runs of two or more spaces, as Docker's
// tables are aligned.
func columns(line string) []string {
	return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
}

var sizeRE = regexp.MustCompile(`^[0-9.]+ ?[kKMG]?B$`)

func TestImagesTable(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	id := configID(t, images.Busybox)
	repo := plain.Addr + "/busybox"

	out := lines(e.ok("images").stdout)
	if len(out) != 2 {
		t.Fatalf("husk images: want a header and one row:\n%s", strings.Join(out, "\n"))
	}
	if got, want := columns(out[0]), []string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("header = %q, want %q", got, want)
	}
	row := columns(out[1])
	if len(row) != 5 {
		t.Fatalf("row %q: want 5 columns", out[1])
	}
	if row[0] != repo || row[1] != "latest" || row[2] != id[:12] || row[3] == "" || !sizeRE.MatchString(row[4]) {
		t.Errorf("row = %q, want [%s latest %s <created> <size>]", row, repo, id[:12])
	}

	if q := e.imageIDs(); len(q) != 1 || q[0] != id[:12] {
		t.Errorf("images -q = %q, want [%s]", q, id[:12])
	}
	if q := lines(e.ok("images", "-q", "--no-trunc").stdout); len(q) != 1 || q[0] != "sha256:"+id {
		t.Errorf("images -q --no-trunc = %q, want [sha256:%s]", q, id)
	}

	out = lines(e.ok("images", "--digests").stdout)
	if len(out) != 2 {
		t.Fatalf("husk images --digests:\n%s", strings.Join(out, "\n"))
	}
	if got := columns(out[0]); strings.Join(got, "|") != "REPOSITORY|TAG|DIGEST|IMAGE ID|CREATED|SIZE" {
		t.Errorf("--digests header = %q", got)
	}
	if row := columns(out[1]); len(row) < 4 || row[2] != manifestDigest(t, images.Busybox) || row[3] != id[:12] {
		t.Errorf("--digests row = %q, want digest %s and ID %s", row, manifestDigest(t, images.Busybox), id[:12])
	}

	if got := lines(e.ok("images", "--format", "{{.Repository}}:{{.Tag}}").stdout); len(got) != 1 || got[0] != ref {
		t.Errorf("--format '{{.Repository}}:{{.Tag}}' = %q, want [%s]", got, ref)
	}
	if got := lines(e.ok("images", "--format", "{{.ID}} {{.Digest}}").stdout); len(got) != 1 ||
		got[0] != id[:12]+" "+manifestDigest(t, images.Busybox) {
		t.Errorf("--format '{{.ID}} {{.Digest}}' = %q", got)
	}
}

// --format json: one object per line with Docker's keys.
func TestImagesJSON(t *testing.T) {
	e := newEnv(t)
	e.pull(plain.Ref("busybox:latest"))
	e.pull(plain.Ref("layers:latest"))
	out := lines(e.ok("images", "--format", "json").stdout)
	if len(out) != 2 {
		t.Fatalf("images --format json: want 2 lines, got:\n%s", strings.Join(out, "\n"))
	}
	byRepo := map[string]map[string]any{}
	for _, l := range out {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not one JSON object per line: %q: %v", l, err)
		}
		for _, k := range []string{"ID", "Repository", "Tag", "Digest", "CreatedAt", "CreatedSince", "Size"} {
			if _, ok := m[k]; !ok {
				t.Errorf("images --format json: key %s missing in %s", k, l)
			}
		}
		repo, _ := m["Repository"].(string)
		byRepo[repo] = m
	}
	for repo, img := range map[string]string{"busybox": configID(t, images.Busybox), "layers": configID(t, images.Layers)} {
		m := byRepo[plain.Addr+"/"+repo]
		if m == nil {
			t.Errorf("no JSON line for %s/%s", plain.Addr, repo)
			continue
		}
		id, _ := m["ID"].(string)
		id = strings.TrimPrefix(id, "sha256:")
		if len(id) < 12 || !strings.HasPrefix(img, id) {
			t.Errorf("%s: ID %q, want a prefix of %s", repo, m["ID"], img)
		}
		if m["Tag"] != "latest" {
			t.Errorf("%s: Tag %v, want latest", repo, m["Tag"])
		}
	}
	// The 100 MB file shows in the layers image's size.
	if s, ok := byRepo[plain.Addr+"/layers"]["Size"].(float64); ok && s < BigFileSize {
		t.Errorf("layers: Size %v, want at least %d", s, BigFileSize)
	}
}

// An empty store lists only the header.
func TestImagesEmpty(t *testing.T) {
	e := newEnv(t)
	if out := lines(e.ok("images").stdout); len(out) != 1 || !strings.HasPrefix(out[0], "REPOSITORY") {
		t.Errorf("empty store: want only the header: %q", out)
	}
	if ids := e.imageIDs(); len(ids) != 0 {
		t.Errorf("empty store: images -q = %q", ids)
	}
}

// A tag pulled again for another platform moves; the image it left is
// dangling and listed as <none> <none>.
func TestImagesDangling(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("multiarch:latest")
	e.pull(ref, "--platform", "linux/amd64")
	e.pull(ref, "--platform", "linux/arm64")
	got := lines(e.ok("images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}").stdout)
	sort.Strings(got)
	want := []string{
		"<none> <none> " + configID(t, archImage(t, "amd64"))[:12],
		plain.Addr + "/multiarch latest " + configID(t, archImage(t, "arm64"))[:12],
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("images = %q, want %q", got, want)
	}
}

// --filter dangling=, label=, reference=, before=, since= and the
// REPOSITORY argument select as Docker's do.
func TestImagesFilters(t *testing.T) {
	e := newEnv(t)
	old := pushedImage(t, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), map[string]string{"tier": "web"})
	young := pushedImage(t, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), map[string]string{"tier": "db"})
	e.pull(old)
	e.pull(young)
	ref := plain.Ref("multiarch:latest")
	e.pull(ref, "--platform", "linux/amd64")
	e.pull(ref, "--platform", "linux/arm64") // the amd64 one is left dangling
	repo := func(r string) string { n, _, _ := strings.Cut(r, ":latest"); return n }
	list := func(args ...string) string {
		out := e.ok(append([]string{"images", "--format", "{{.Repository}}"}, args...)...).stdout
		got := lines(out)
		sort.Strings(got)
		return strings.Join(got, " ")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--filter", "label=tier=web"}, repo(old)},
		{[]string{"--filter", "label=tier"}, strings.Join(sorted(repo(old), repo(young)), " ")},
		{[]string{"--filter", "label=tier=none"}, ""},
		{[]string{"--filter", "dangling=true"}, "<none>"},
		{[]string{"--filter", "reference=*/multiarch:latest"}, repo(ref)},
		{[]string{repo(young)}, repo(young)},
		{[]string{"--filter", "before=" + young, "--filter", "label=tier"}, repo(old)},
		{[]string{"--filter", "since=" + old, "--filter", "label=tier"}, repo(young)},
		{[]string{"-a", "--filter", "dangling=false", "--filter", "label=tier=db"}, repo(young)},
	} {
		if got := list(c.args...); got != c.want {
			t.Errorf("images %s: got %q, want %q", strings.Join(c.args, " "), got, c.want)
		}
	}
	e.wantError(e.run("images", "--filter", "color=red"), "color=red")
	e.wantError(e.run("images", "--filter", "dangling=maybe"), "dangling=maybe")
}

// pushedImage is busybox created at t with labels, pushed under a fresh name.
func pushedImage(t *testing.T, created time.Time, labels map[string]string) string {
	t.Helper()
	cf, err := images.Busybox.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.Config.Labels = labels
	img, err := mutate.ConfigFile(images.Busybox, cf)
	if err != nil {
		t.Fatal(err)
	}
	repo := "filtered-" + randomHex(4) + ":latest"
	if err := plain.Push(repo, img); err != nil {
		t.Fatal(err)
	}
	return plain.Ref(repo)
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}
