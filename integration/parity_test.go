package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Docker's inspect fields, read with the templates a Docker user writes.
func TestInspectDockerFields(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	port := freePort(t, "tcp")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	e.detached([]string{"--name", "web", "-e", "FOO=bar", "-v", dir + ":/data:ro", "-p", fmt.Sprintf("%d:80", port)}, ref, "sleep", "60")
	tmpl := func(f string) string { return e.out("inspect", "--format", f, "web") }
	if got := tmpl(`{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}`); got != strconv.Itoa(port) {
		t.Errorf(".NetworkSettings.Ports 80/tcp HostPort: got %q, want %d", got, port)
	}
	if got := tmpl(`{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostIp}}`); got != "0.0.0.0" {
		t.Errorf(".NetworkSettings.Ports 80/tcp HostIp: got %q, want 0.0.0.0", got)
	}
	if got := tmpl(`{{(index (index .HostConfig.PortBindings "80/tcp") 0).HostPort}}`); got != strconv.Itoa(port) {
		t.Errorf(".HostConfig.PortBindings 80/tcp HostPort: got %q, want %d", got, port)
	}
	if got := tmpl(`{{.NetworkSettings.IPAddress}}`); got != "10.0.2.100" {
		t.Errorf(".NetworkSettings.IPAddress: got %q, want 10.0.2.100", got)
	}
	var env []string
	if err := json.Unmarshal([]byte(tmpl(`{{json .Config.Env}}`)), &env); err != nil || !contains(env, "FOO=bar") || !strings.HasPrefix(env[0], "PATH=") {
		t.Errorf(".Config.Env: want the image's PATH and FOO=bar: %q %v", env, err)
	}
	if got := tmpl(`{{index .Config.Labels "org.husk.test"}}`); got != "busybox" {
		t.Errorf(".Config.Labels: want the image's label org.husk.test=busybox, got %q", got)
	}
	want := "bind " + dir + " /data ro false rprivate"
	if got := tmpl(`{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.Mode}} {{.RW}} {{.Propagation}}{{end}}`); got != want {
		t.Errorf(".Mounts: got %q, want %q", got, want)
	}

	// ps --format json has Labels, Mounts and Networks.
	var row map[string]string
	if err := json.Unmarshal([]byte(e.out("ps", "--filter", "name=^web$", "--format", "json")), &row); err != nil {
		t.Fatalf("ps --format json: %v", err)
	}
	if row["Labels"] != "org.husk.test=busybox" || row["Mounts"] != dir || row["Networks"] == "" {
		t.Errorf("ps --format json: Labels, Mounts, Networks: %q", row)
	}
	for f, want := range map[string]string{"label=org.husk.test": "web", "label=org.husk.test=busybox": "web",
		"label=org.husk.test=other": "", "label=nosuch": ""} {
		if got := e.out("ps", "--filter", f, "--format", "{{.Names}}"); got != want {
			t.Errorf("ps --filter %s: got %q, want %q", f, got, want)
		}
	}
	if got := e.out("ps", "--format", `{{.Label "org.husk.test"}}`); got != "busybox" {
		t.Errorf(`ps --format '{{.Label "org.husk.test"}}': got %q`, got)
	}

	// --type and -s.
	e.wantError(e.run("inspect", "--type", "image", "web"), "web")
	e.wantError(e.run("inspect", "--type", "volume", "web"), "--type", "container or image")
	e.wantError(e.run("inspect", "--type", "container", ref), "no such container")
	if got := e.out("inspect", "--type", "image", "--format", "{{index .Config.Labels \"org.husk.test\"}}", ref); got != "busybox" {
		t.Errorf("inspect --type image: got %q", got)
	}
	e.out("exec", "web", "sh", "-c", "head -c 204800 /dev/zero > /big")
	sizes := strings.Fields(e.out("inspect", "-s", "--format", "{{.SizeRw}} {{.SizeRootFs}}", "web"))
	rw, _ := strconv.Atoi(sizes[0])
	root, _ := strconv.Atoi(sizes[len(sizes)-1])
	if len(sizes) != 2 || rw < 200*1024 || root <= rw {
		t.Errorf("inspect -s: want SizeRw >= 200 KiB and a larger SizeRootFs: %q", sizes)
	}
	if got := e.out("ps", "-s", "--format", "{{.Size}}"); !regexp.MustCompile(`^2\d\d(\.\d+)?kB \(virtual [0-9.]+[kM]B\)$`).MatchString(got) {
		t.Errorf("ps -s --format {{.Size}}: want Docker's '205kB (virtual 1.2MB)', got %q", got)
	}
	if head := lines(e.out("ps", "-s"))[0]; !strings.HasSuffix(head, "SIZE") {
		t.Errorf("ps -s: want a SIZE column: %q", head)
	}
	e.out("rm", "-f", "web")
	e.noLeftovers()
}

// ps -l and -n count containers in every state, newest first.
func TestPsLatestAndLast(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	for _, n := range []string{"c1", "c2", "c3"} {
		e.out("create", "--name", n, ref, "true")
		time.Sleep(20 * time.Millisecond)
	}
	if got := e.out("ps", "-l", "--format", "{{.Names}}"); got != "c3" {
		t.Errorf("ps -l: got %q, want c3", got)
	}
	if got := e.out("ps", "--latest", "-q"); len(got) != 12 {
		t.Errorf("ps --latest -q: want one short ID, got %q", got)
	}
	if got := lines(e.out("ps", "-n", "2", "--format", "{{.Names}}")); !slices.Equal(got, []string{"c3", "c2"}) {
		t.Errorf("ps -n 2: got %q, want c3 c2", got)
	}
	if got := lines(e.out("ps", "--last", "5", "--format", "{{.Names}}")); !slices.Equal(got, []string{"c3", "c2", "c1"}) {
		t.Errorf("ps --last 5: got %q", got)
	}
	if got := e.out("ps", "-q"); got != "" {
		t.Errorf("ps: created containers are not running: %q", got)
	}
	e.out("rm", "c1", "c2", "c3")
}

// exec -d, --env-file and --privileged.
func TestExecDetachEnvFilePrivileged(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--name", "box"}, ref, "sleep", "60")
	start := time.Now()
	r := e.run("exec", "-d", "box", "sh", "-c", "sleep 2; echo done > /tmp/mark")
	if r.code != 0 || r.stdout != "" || time.Since(start) > 1500*time.Millisecond {
		t.Errorf("exec -d: want exit 0 at once, no output: %s after %v", r, time.Since(start))
	}
	if !eventually(10*time.Second, func() bool { return e.run("exec", "box", "cat", "/tmp/mark").stdout == "done\n" }) {
		t.Errorf("exec -d: its command did not finish after husk returned")
	}
	file := filepath.Join(t.TempDir(), "env")
	os.WriteFile(file, []byte("# a comment\nNO_PROXY=localhost,127.0.0.1\nB=from-file\n"), 0o644)
	if got := e.out("exec", "--env-file", file, "-e", "B=flag", "box", "sh", "-c", `echo "$NO_PROXY|$B"`); got != "localhost,127.0.0.1|flag" {
		t.Errorf("exec --env-file: got %q", got)
	}
	plain := statusField(e.out("exec", "box", "cat", "/proc/self/status"), "CapEff")
	priv := statusField(e.out("exec", "--privileged", "box", "cat", "/proc/self/status"), "CapEff")
	full := statusField(e.out("run", "--rm", "--privileged", ref, "cat", "/proc/self/status"), "CapEff")
	if plain != dockerCaps || priv != full || priv == plain {
		t.Errorf("exec --privileged: CapEff %s, want run --privileged's %s (without: %s)", priv, full, plain)
	}
	e.out("rm", "-f", "box")
	e.noLeftovers()
}

// pause freezes every process; ps, inspect and exec say so; unpause, stop
// and kill work on a paused container.
func TestPauseUnpause(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--name", "ticker"}, ref, "sh", "-c", "while true; do echo tick; sleep 0.1; done")
	ticks := func() int { return len(lines(e.out("logs", "ticker"))) }
	if !eventually(5*time.Second, func() bool { return ticks() > 2 }) {
		t.Fatalf("the ticker does not tick")
	}
	// A husk exec in the container stops with it and goes on after.
	var execOut bytes.Buffer
	ex := e.command(context.Background(), "exec", "ticker", "sh", "-c", "sleep 1; echo exec-done")
	ex.Stdout = &execOut
	if err := ex.Start(); err != nil {
		t.Fatal(err)
	}
	execDone := make(chan error, 1)
	go func() { execDone <- ex.Wait() }()
	time.Sleep(300 * time.Millisecond)
	if out := e.out("pause", "ticker"); out != "ticker" {
		t.Errorf("pause: want the name back, got %q", out)
	}
	time.Sleep(300 * time.Millisecond)
	n := ticks()
	time.Sleep(time.Second)
	if m := ticks(); m != n {
		t.Errorf("paused, the container went on: %d ticks, then %d", n, m)
	}
	if st := e.psStatus("ticker"); !regexp.MustCompile(`^ticker\|Up .* \(Paused\)$`).MatchString(st) {
		t.Errorf("ps of a paused container: got %q", st)
	}
	if got := e.out("inspect", "--format", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", "ticker"); got != "paused true true" {
		t.Errorf("inspect State: got %q, want paused true true", got)
	}
	if got := e.out("ps", "--filter", "status=paused", "--format", "{{.Names}} {{.State}}"); got != "ticker paused" {
		t.Errorf("ps --filter status=paused: got %q", got)
	}
	e.wantError(e.run("exec", "ticker", "true"), "paused", "unpause")
	select {
	case err := <-execDone:
		t.Errorf("husk exec ended while its container was paused: %v %q", err, execOut.String())
	default:
	}
	e.wantError(e.run("pause", "ticker"), "already paused")
	e.out("container", "unpause", "ticker")
	if !eventually(5*time.Second, func() bool { return ticks() > n+2 }) {
		t.Errorf("unpause: the container did not go on")
	}
	select {
	case err := <-execDone:
		if err != nil || execOut.String() != "exec-done\n" {
			t.Errorf("husk exec after unpause: %v %q", err, execOut.String())
		}
	case <-time.After(10 * time.Second):
		ex.Process.Kill()
		t.Errorf("husk exec did not go on after unpause")
	}
	e.wantError(e.run("unpause", "ticker"), "not paused")
	if got := e.out("inspect", "--format", "{{.State.Status}} {{.State.Paused}}", "ticker"); got != "running false" {
		t.Errorf("inspect after unpause: got %q", got)
	}

	// stop of a paused container: its process gets SIGTERM, not the timeout.
	e.out("container", "pause", "ticker")
	start := time.Now()
	e.out("stop", "-t", "20", "ticker")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stop of a paused container took %v: SIGTERM was not delivered", d)
	}
	if st := e.psStatus("ticker"); !strings.HasPrefix(st, "ticker|Exited (143)") {
		t.Errorf("after stop: got %q", st)
	}
	// kill of a paused one, after a restart.
	e.out("start", "ticker")
	e.out("pause", "ticker")
	e.out("kill", "ticker")
	if code := e.out("wait", "ticker"); code != "137" {
		t.Errorf("kill of a paused container: wait says %q, want 137", code)
	}
	e.wantError(e.run("pause", "ticker"), "not running")
	e.out("rm", "ticker")
	e.noLeftovers()
}

// system prune asks, then removes stopped containers and dangling images,
// with -a every image no container uses.
func TestSystemPrune(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	other := plain.Ref("sysprune-" + me.Name + ":latest")
	img, err := UniqueImage(t.Name() + me.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Push("sysprune-"+me.Name+":latest", img); err != nil {
		t.Fatal(err)
	}
	e.pull(other)
	e.detached([]string{"--name", "keep"}, ref, "sleep", "60")
	e.out("run", "--name", "done", ref, "true")

	r := e.runInput("n\n", "system", "prune")
	if r.code != 0 || !strings.Contains(r.stderr, "all stopped containers") || !strings.Contains(r.stderr, "Are you sure") {
		t.Errorf("system prune answered n: want Docker's question: %s", r)
	}
	if got := e.out("ps", "-a", "--format", "{{.Names}}"); !strings.Contains(got, "done") {
		t.Errorf("system prune answered n removed a container: %q", got)
	}
	r = e.runInput("n\n", "system", "prune", "--volumes")
	if n := strings.Count(r.stderr, "anonymous volumes"); n != 1 {
		t.Errorf("system prune --volumes: want the volumes named once in the question, got %d: %s", n, r)
	}
	r = e.ok("system", "prune", "-f")
	if !strings.Contains(r.stdout, "Deleted Containers:") || !strings.Contains(r.stdout, "Total reclaimed space:") {
		t.Errorf("system prune -f: %s", r)
	}
	if got := lines(e.out("ps", "-a", "--format", "{{.Names}}")); !slices.Equal(got, []string{"keep"}) {
		t.Errorf("after system prune: want only the running container, got %q", got)
	}
	if len(e.imageIDs()) != 2 {
		t.Errorf("system prune without -a removed a named image: %q", e.imageIDs())
	}
	r = e.ok("system", "prune", "-a", "-f", "--volumes")
	if !strings.Contains(r.stdout, "deleted: sha256:"+configID(t, img)) {
		t.Errorf("system prune -a: want the unused image deleted: %s", r)
	}
	if ids := e.imageIDs(); len(ids) != 1 || !strings.Contains(ids[0], configID(t, images.Busybox)[:12]) {
		t.Errorf("system prune -a: want only the image in use left: %q", ids)
	}
	e.out("rm", "-f", "keep")
	e.noLeftovers()
}
