package integration

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// historyImage has two steps: a layer made by a long command, with a
// comment, then a config-only step.
func historyImage(t *testing.T) v1.Image {
	t.Helper()
	layer, err := TarLayer([]Entry{File("history-file", 0o644, 0, 0, strings.Repeat("h", 5000))})
	if err != nil {
		t.Fatal(err)
	}
	img, err := NewImage("amd64", v1.Config{Cmd: []string{"sh"}}, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.History = []v1.History{
		{Created: v1.Time{Time: epoch}, CreatedBy: "/bin/sh -c #(nop) ADD file:" + strings.Repeat("f", 60) + " in / ", Comment: "first"},
		{Created: v1.Time{Time: epoch}, CreatedBy: `/bin/sh -c #(nop) CMD ["sh"]`, EmptyLayer: true},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestHistory(t *testing.T) {
	img := historyImage(t)
	repo := "history-" + me.Name + ":latest"
	if err := plain.Push(repo, img); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	ref := plain.Ref(repo)
	e.pull(ref)
	id := configID(t, img)
	long := "/bin/sh -c #(nop) ADD file:" + strings.Repeat("f", 60) + " in / "

	table := lines(e.ok("history", ref).stdout)
	if len(table) != 3 || !slices.Equal(columns(table[0]), []string{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"}) {
		t.Fatalf("history: want Docker's header and two steps: %q", table)
	}
	top, first := columns(table[1]), columns(table[2])
	if top[0] != id[:12] || !strings.HasSuffix(top[1], "ago") || top[2] != `/bin/sh -c #(nop) CMD ["sh"]` || top[3] != "0B" {
		t.Errorf("newest step: %q", top)
	}
	if first[0] != "<missing>" || first[2] != string([]rune(long)[:44])+"…" || !regexp.MustCompile(`^[0-9.]+kB$`).MatchString(first[3]) || first[4] != "first" {
		t.Errorf("first step: %q", first)
	}

	f := lines(e.ok("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Comment}}", ref).stdout)
	want := []string{"sha256:" + id + `|/bin/sh -c #(nop) CMD ["sh"]|`, "<missing>|" + long + "|first"}
	if !slices.Equal(f, want) {
		t.Errorf("history --no-trunc --format: %q, want %q", f, want)
	}
	if q := lines(e.ok("image", "history", "-q", ref).stdout); !slices.Equal(q, []string{id[:12], "<missing>"}) {
		t.Errorf("image history -q: %q", q)
	}
	e.wantError(e.run("history", plain.Ref("nothing-here:1")), "no such image")
}

// Prune asks first; it removes dangling images, with -a every image no
// container uses; an image a container uses survives both.
func TestImagePrune(t *testing.T) {
	e := newEnv(t)
	repo := "prune-" + me.Name + ":latest"
	ref := plain.Ref(repo)
	var ids []string
	for i := 0; i < 3; i++ {
		img, err := UniqueImage(t.Name() + me.Name + string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := plain.Push(repo, img); err != nil {
			t.Fatal(err)
		}
		e.pull(ref)
		ids = append(ids, configID(t, img))
		if i == 0 {
			e.ok("create", "--name", "keeper", ref, "true")
		}
	}
	// ids[0]: dangling, used by keeper; ids[1]: dangling; ids[2]: named.
	bb := plain.Ref("busybox:latest")
	e.pull(bb)
	all := func() []string {
		var out []string
		for _, l := range lines(e.ok("images", "-q", "--no-trunc").stdout) {
			out = append(out, strings.TrimPrefix(l, "sha256:"))
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	bbID := configID(t, images.Busybox)

	r := e.runInput("n\n", "image", "prune")
	if r.code != 0 || !strings.Contains(r.stderr, "Are you sure") || len(all()) != 4 {
		t.Errorf("prune answered n: want the question and nothing removed: %s", r)
	}
	r = e.runInput("y\n", "image", "prune")
	if r.code != 0 || !strings.Contains(r.stdout, "deleted: sha256:"+ids[1]) {
		t.Errorf("prune answered y: %s", r)
	}
	if got := all(); !slices.Equal(got, sorted(ids[0], ids[2], bbID)) {
		t.Errorf("after prune: %q", got)
	}
	e.ok("image", "prune", "-a", "-f")
	if got := all(); !slices.Equal(got, []string{ids[0]}) {
		t.Errorf("after prune -a: want only the image keeper uses: %q", got)
	}
	e.ok("rm", "keeper")
	r = e.ok("image", "prune", "-af")
	if got := all(); len(got) != 0 || !strings.Contains(r.stdout, "Total reclaimed space:") {
		t.Errorf("after rm and prune -a: %q: %s", got, r)
	}
}
