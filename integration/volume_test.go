package integration

import (
	"encoding/json"
	"strings"
	"testing"
)

// volumeNames is `husk volume ls -q`.
func (e *env) volumeNames() []string {
	e.t.Helper()
	return strings.Fields(e.out("volume", "ls", "-q"))
}

// A named volume is created on first use and keeps its data across
// containers, which may mount it read-only; ls and inspect show Docker's
// fields; it outlives its containers' rm.
func TestVolumeNamedPersists(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	e.sbxOut([]string{"--name", "w", "-v", "data:/d"}, ref, "sh", "-c", "echo kept > /d/f")
	e.ok("rm", "w")
	if got := e.sbxOut([]string{"--rm", "-v", "data:/d:ro"}, ref, "cat", "/d/f"); got != "kept" {
		t.Errorf("second container read %q from the volume, want kept", got)
	}
	if r := e.sbx([]string{"--rm", "--mount", "type=volume,src=data,dst=/d,readonly"}, ref, "touch", "/d/x"); r.code == 0 {
		t.Errorf("a readonly volume mount was writable: %s", r)
	}
	e.ok("volume", "create", "--label", "team=db", "--opt", "type=tmpfs", "--opt", "o=size=1m", "labeled")
	if got := strings.Join(e.volumeNames(), " "); got != "data labeled" {
		t.Errorf("volume ls -q: %q, want data labeled", got)
	}
	if got := e.out("volume", "ls", "-q", "--filter", "label=team=db"); got != "labeled" {
		t.Errorf("volume ls --filter label=team=db: %q", got)
	}
	if got := e.out("volume", "ls", "-q", "--filter", "dangling=true", "--filter", "name=dat"); got != "data" {
		t.Errorf("volume ls --filter dangling=true --filter name=dat: %q", got)
	}
	if ls := e.out("volume", "ls"); !strings.HasPrefix(ls, "DRIVER") || !strings.Contains(ls, "VOLUME NAME") || !strings.Contains(ls, "local") {
		t.Errorf("volume ls: %q", ls)
	}
	var vs []map[string]any
	if err := json.Unmarshal([]byte(e.out("volume", "inspect", "data", "labeled")), &vs); err != nil || len(vs) != 2 {
		t.Fatalf("volume inspect: %v %v", err, vs)
	}
	for _, k := range []string{"Name", "Driver", "Mountpoint", "Labels", "Options", "Scope", "CreatedAt"} {
		if _, ok := vs[0][k]; !ok {
			t.Errorf("volume inspect: no %s in %v", k, vs[0])
		}
	}
	if vs[0]["Driver"] != "local" || vs[0]["Scope"] != "local" || vs[0]["Name"] != "data" {
		t.Errorf("volume inspect data: %v", vs[0])
	}
	if l, _ := vs[1]["Labels"].(map[string]any); l["team"] != "db" {
		t.Errorf("volume inspect labeled: labels %v", vs[1]["Labels"])
	}
	if o, _ := vs[1]["Options"].(map[string]any); o["type"] != "tmpfs" {
		t.Errorf("volume inspect labeled: options %v", vs[1]["Options"])
	}
	e.ok("volume", "rm", "data", "labeled")
	if n := e.volumeNames(); len(n) != 0 {
		t.Errorf("after volume rm: %q", n)
	}
}

// A new volume is filled from the image at its mount point, modes (and
// owners, with subuid ranges) kept, on first use only; volume-nocopy
// skips it; an image's VOLUME gets an anonymous volume filled likewise.
func TestVolumeCopyUp(t *testing.T) {
	e := newEnv(t)
	base := plain.Ref("busybox:latest")
	e.pull(base)
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + base + `
RUN mkdir -p /seed /decl && echo seeded > /seed/f && chmod 640 /seed/f && chown 7:8 /seed/f && echo decl > /decl/g
VOLUME /decl
`})
	e.ok("build", "-t", "seeded", dir)
	got := e.sbxOut([]string{"--rm", "-v", "cu:/seed"}, "seeded", "sh", "-c", "cat /seed/f; stat -c '%a %u:%g' /seed/f; echo new > /seed/f")
	want := "seeded\n640 7:8"
	if !e.subuid() {
		want = "seeded\n640"
	}
	if !strings.HasPrefix(got, want) {
		t.Errorf("copied-up volume: %q, want %q", got, want)
	}
	if got := e.sbxOut([]string{"--rm", "-v", "cu:/seed"}, "seeded", "cat", "/seed/f"); got != "new" {
		t.Errorf("second use copied again: %q, want new", got)
	}
	if got := e.sbxOut([]string{"--rm", "--mount", "type=volume,src=nc,dst=/seed,volume-nocopy"}, "seeded", "ls", "-A", "/seed"); got != "" {
		t.Errorf("volume-nocopy: the volume holds %q, want nothing", got)
	}
	if got := e.sbxOut([]string{"--name", "d"}, "seeded", "cat", "/decl/g"); got != "decl" {
		t.Errorf("image VOLUME: %q, want decl", got)
	}
	if n := e.volumeNames(); len(n) != 3 {
		t.Errorf("want cu, nc and the anonymous volume of /decl: %q", n)
	}
	e.ok("rm", "-v", "d")
	if n := e.volumeNames(); len(n) != 2 {
		t.Errorf("rm -v left the image VOLUME's volume: %q", n)
	}
}

// Anonymous volumes go with --rm and rm -v, and stay after a plain rm.
func TestVolumeAnonymous(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	e.sbxOut([]string{"--rm", "-v", "/scratch"}, ref, "touch", "/scratch/x")
	if id := e.detached([]string{"--rm", "-v", "/scratch"}, ref, "true"); id != "" {
		waitFor(t, 20e9, func() bool { return len(e.volumeNames()) == 0 && e.out("ps", "-aq") == "" })
	}
	e.ok("create", "--name", "x", "-v", "/s", ref, "true")
	if n := e.volumeNames(); len(n) != 1 || len(n[0]) != 64 {
		t.Fatalf("create -v /s: volumes %q, want one anonymous", n)
	}
	e.ok("rm", "-v", "x")
	if n := e.volumeNames(); len(n) != 0 {
		t.Errorf("rm -v kept %q", n)
	}
	e.ok("create", "--name", "y", "-v", "/s", ref, "true")
	e.ok("rm", "y")
	if n := e.volumeNames(); len(n) != 1 {
		t.Errorf("plain rm: want the anonymous volume kept: %q", n)
	}
	e.ok("volume", "prune", "-f")
	if n := e.volumeNames(); len(n) != 0 {
		t.Errorf("volume prune kept %q", n)
	}
}

// --volumes-from mounts another container's volumes, read-only with :ro;
// volume rm refuses a volume a container (stopped) uses.
func TestVolumesFromAndInUse(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	e.ok("create", "--name", "src", "-v", "shared:/sh", "-v", "/anon", ref, "true")
	e.sbxOut([]string{"--rm", "--volumes-from", "src"}, ref, "sh", "-c", "echo x > /sh/f && echo y > /anon/g")
	if got := e.sbxOut([]string{"--rm", "--volumes-from", "src:ro"}, ref, "cat", "/sh/f", "/anon/g"); got != "x\ny" {
		t.Errorf("--volumes-from src:ro read %q, want x y", got)
	}
	if r := e.sbx([]string{"--rm", "--volumes-from", "src:ro"}, ref, "touch", "/sh/z"); r.code == 0 {
		t.Errorf("--volumes-from src:ro was writable: %s", r)
	}
	e.wantError(e.run("volume", "rm", "shared"), "in use", "src")
	e.ok("rm", "src")
	e.ok("volume", "rm", "shared")
}

// Bad input: one line, exit 125, nothing created.
func TestVolumeBadInput(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	e.wantError(e.run("volume", "create", "bad/name"), "invalid volume name")
	e.wantError(e.run("volume", "create", "--opt", "colour=blue", "v1"), "unknown volume option")
	e.wantError(e.run("volume", "create", "--opt", "type=nfs", "v1"), "type=nfs")
	e.wantError(e.run("run", "--rm", "-v", "b@d:/x", ref, "true"), "invalid volume name")
	e.wantError(e.run("run", "--rm", "-v", "ok:relative", ref, "true"), "absolute")
	e.wantError(e.run("run", "--rm", "--mount", "type=volume,src=ok,dst=/x,colour=blue", ref, "true"), "unknown key")
	e.wantError(e.run("run", "--rm", "-v", "ok:/x", "--volumes-from", "nosuch", ref, "true"), "nosuch")
	if n := e.volumeNames(); len(n) != 0 {
		t.Errorf("bad input created volumes %q", n)
	}
	if ps := e.out("ps", "-aq"); ps != "" {
		t.Errorf("bad input created containers %q", ps)
	}
}

// The copy-up works on every root strategy (the image is mounted by the
// store, in husk's user namespace), and leaves no mount behind; system df
// counts the volume, --mount binds and tmpfs mounts work beside volumes.
func TestVolumeEachStrategy(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, e *env, ref string) {
		dir := e.buildCtx("host", map[string]string{"h": "host\n"})
		flags := []string{"--rm", "-v", "etc:/etc", "--mount", "type=bind,src=" + dir + ",dst=/h,readonly",
			"--mount", "type=tmpfs,dst=/t,tmpfs-size=1m"}
		got := e.sbxOut(flags, ref, "sh", "-c", "grep -c ^root: /etc/passwd; cat /h/h; touch /h/x 2>/dev/null || echo ro; grep -c ' /t tmpfs' /proc/mounts")
		if got != "1\nhost\nro\n1" {
			t.Errorf("copy-up of /etc, bind and tmpfs mounts: %q", got)
		}
		if df := e.out("system", "df"); !strings.Contains(df, "Local Volumes   1") {
			t.Errorf("system df: want one volume: %q", df)
		}
		e.noLeftovers()
	})
}
