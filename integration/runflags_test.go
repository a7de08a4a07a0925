package integration

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Docker's run flags that shape the process: /etc/hosts, groups, limits,
// /dev, the network's alias, and what husk cannot apply, said in a line.
func TestRunDockerFlagsProcess(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	t.Run("add-host", func(t *testing.T) {
		out := e.sbxOut([]string{"--rm", "--add-host", "db:10.1.2.3", "--add-host", "gw:host-gateway"}, ref, "cat", "/etc/hosts")
		if !strings.Contains(out, "10.1.2.3\tdb\n") {
			t.Errorf("--add-host db:10.1.2.3: want the line in /etc/hosts: %q", out)
		}
		gw, host := "", ""
		for _, l := range lines(out) {
			if f := strings.Fields(l); len(f) == 2 && f[1] == "gw" {
				gw = f[0]
			} else if len(f) == 2 && f[1] == "host.husk.internal" {
				host = f[0]
			}
		}
		if gw == "" || gw != host {
			t.Errorf("--add-host gw:host-gateway: want the host's address (host.husk.internal's): %q", out)
		}
		e.wantRunError(e.sbx([]string{"--rm", "--net", "none", "--add-host", "gw:host-gateway"}, ref, "true"), "host-gateway")
	})
	t.Run("net alias", func(t *testing.T) {
		if out := e.sbxOut([]string{"--rm", "--net", "none"}, ref, "ls", "/sys/class/net"); out != "lo" {
			t.Errorf("--net none: want only lo: %q", out)
		}
	})
	t.Run("init", func(t *testing.T) {
		if out := e.sbxOut([]string{"--rm", "--init"}, ref, "sh", "-c", "echo $$"); out != "2" {
			t.Errorf("--init: want the command as PID 2 under husk's init: %q", out)
		}
	})
	t.Run("group-add", func(t *testing.T) {
		r := e.sbx([]string{"--rm", "--group-add", "tester", "--group-add", "4242"}, ref, "id", "-G")
		if !e.subuid() {
			e.wantRunError(r, "--group-add", "setgroups")
			e.wantRunError(e.run("create", "--group-add", "4242", ref, "true"), "--group-add", "setgroups")
			return
		}
		if f := strings.Fields(r.stdout); r.code != 0 || !contains(f, "1000") || !contains(f, "4242") {
			t.Errorf("--group-add tester --group-add 4242: want groups 1000 and 4242: %s", r)
		}
		e.wantRunError(e.sbx([]string{"--rm", "--group-add", "nosuch"}, ref, "true"), "unable to find group nosuch")
	})
	t.Run("ulimit", func(t *testing.T) {
		out := e.shOut(ref, "ulimit -n; ulimit -Hn", "--rm", "--ulimit", "nofile=512:1024")
		if out != "512\n1024" {
			t.Errorf("--ulimit nofile=512:1024: want soft 512 and hard 1024: %q", out)
		}
		e.wantRunError(e.sbx([]string{"--rm", "--ulimit", "nofile=512:1024:9"}, ref, "true"), "--ulimit")
		e.wantRunError(e.sbx([]string{"--rm", "--ulimit", "bogus=1"}, ref, "true"), "--ulimit")
	})
	t.Run("pids", func(t *testing.T) {
		if out := e.sbxOut([]string{"--rm"}, ref, "grep", "Max processes", "/proc/self/limits"); !strings.Contains(out, " 4096 ") {
			t.Errorf("by default: want the documented guard of 4096 processes: %q", out)
		}
		r := e.sbx([]string{"--rm", "--pids-limit", "10"}, ref, "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 2 & done; wait")
		if !strings.Contains(r.stderr, "can't fork") {
			t.Errorf("--pids-limit 10: want the 12 children refused past the limit: %s", r)
		}
		if out := e.sbxOut([]string{"--rm", "--pids-limit", "10", "--ulimit", "nproc=50"}, ref, "grep", "Max processes", "/proc/self/limits"); !strings.Contains(out, " 50 ") {
			t.Errorf("--ulimit nproc=50 with --pids-limit 10: want --ulimit's 50: %q", out)
		}
	})
	t.Run("shm-size", func(t *testing.T) {
		if out := e.sbxOut([]string{"--rm", "--shm-size", "128m"}, ref, "grep", " /dev/shm ", "/proc/mounts"); !strings.Contains(out, "size=131072k") {
			t.Errorf("--shm-size 128m: want a 128 MiB /dev/shm: %q", out)
		}
	})
	t.Run("device", func(t *testing.T) {
		out := e.shOut(ref, "ls -l /dev/mynull; echo x > /dev/mynull && echo written", "--rm", "--device", "/dev/null:/dev/mynull")
		if !strings.HasPrefix(out, "c") || !strings.HasSuffix(out, "written") {
			t.Errorf("--device /dev/null:/dev/mynull: want a writable character device: %q", out)
		}
		e.wantRunError(e.sbx([]string{"--rm", "--device", "/etc/passwd"}, ref, "true"), "not a device")
		e.wantRunError(e.sbx([]string{"--rm", "--device", "/dev/husk-no-such"}, ref, "true"), "/dev/husk-no-such")
		if dev := unopenableDevice(t); dev != "" {
			e.wantRunError(e.sbx([]string{"--rm", "--device", dev}, ref, "true"), dev)
		}
	})
	t.Run("memory and cpus", func(t *testing.T) {
		r := e.sbx([]string{"--rm", "--memory", "64m", "--cpus", "1.5"}, ref, "echo", "ran")
		if r.code != 0 || r.stdout != "ran\n" || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "not applied") {
			t.Errorf("--memory and --cpus without a delegated cgroup: want the run and one notice line: %s", r)
		}
		e.wantRunError(e.sbx([]string{"--rm", "--memory", "lots"}, ref, "true"), "--memory")
	})
	if out := e.out("ps", "-a", "-q"); out != "" {
		t.Errorf("refused runs must leave no container: %q", out)
	}
	e.noLeftovers()
}

// unopenableDevice is a device node in /dev this user may not open, ""
// when there is none.
func unopenableDevice(t *testing.T) string {
	ents, _ := os.ReadDir("/dev")
	for _, d := range ents {
		if d.Type()&fs.ModeDevice == 0 {
			continue
		}
		p := filepath.Join("/dev", d.Name())
		f, err := os.Open(p)
		if err == nil {
			f.Close()
			continue
		}
		if errors.Is(err, fs.ErrPermission) {
			return p
		}
	}
	t.Logf("no device in /dev that this user cannot open")
	return ""
}

// Docker's flags kept in the container's record: labels, the cidfile,
// --expose, the stop signal and timeout, the log driver.
func TestRunDockerFlagsRecord(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	t.Run("labels", func(t *testing.T) {
		file := e.writeFile("labels", []byte("# a comment\nc=d\na=from-file\n"), 0o644)
		e.out("create", "--name", "lab", "-l", "a=b", "--label", "list=x,y", "--label-file", file, ref, "true")
		defer e.out("rm", "lab")
		// The container's labels over the image's, as Docker shows them.
		if out := e.out("inspect", "--format", "{{.Config.Labels}}", "lab"); out != "map[a:b c:d list:x,y org.husk.test:busybox]" {
			t.Errorf("labels: want map[a:b c:d list:x,y org.husk.test:busybox]: %q", out)
		}
		for filter, want := range map[string]string{"label=a=b": "lab", "label=c": "lab", "label=a=x": "", "label=nope": ""} {
			if out := e.out("ps", "-a", "--filter", filter, "--format", "{{.Names}}"); out != want {
				t.Errorf("ps --filter %s: want %q: %q", filter, want, out)
			}
		}
	})
	t.Run("cidfile", func(t *testing.T) {
		cid := filepath.Join(e.home, "cid")
		id := e.detached([]string{"--name", "cid", "--cidfile", cid}, ref, "true")
		defer e.out("rm", "-f", "cid")
		if b, err := os.ReadFile(cid); err != nil || string(b) != id {
			t.Errorf("--cidfile: want the ID %s in it: %q %v", id, b, err)
		}
		e.wantRunError(e.sbx([]string{"--rm", "--cidfile", cid}, ref, "true"), "container ID file found", cid)
		if out := e.out("ps", "-a", "-q", "--no-trunc"); out != id {
			t.Errorf("a refused --cidfile leaves no container: want only %s: %q", id, out)
		}
	})
	t.Run("expose", func(t *testing.T) {
		e.detached([]string{"--name", "exp", "--expose", "7000", "--expose", "7001/udp", "-P"}, ref, "sleep", "60")
		defer e.out("rm", "-f", "exp")
		out := e.out("port", "exp")
		if !strings.Contains(out, "7000/tcp -> ") || !strings.Contains(out, "7001/udp -> ") {
			t.Errorf("--expose 7000 --expose 7001/udp -P: want both published: %q", out)
		}
		e.wantError(e.sbx([]string{"--rm", "--expose", "80:80"}, ref, "true"), "--expose")
	})
	t.Run("exec", func(t *testing.T) {
		flags := []string{"--name", "lim", "--ulimit", "nofile=512:1024"}
		if e.subuid() {
			flags = append(flags, "--group-add", "4242")
		}
		e.detached(flags, ref, "sleep", "60")
		defer e.out("rm", "-f", "lim")
		if out := e.out("exec", "lim", "sh", "-c", "ulimit -n"); out != "512" {
			t.Errorf("exec in a container run with --ulimit nofile=512:1024: want its limit, 512: %q", out)
		}
		if out := e.out("exec", "lim", "id", "-G"); e.subuid() && !contains(strings.Fields(out), "4242") {
			t.Errorf("exec in a container run with --group-add 4242: want the group: %q", out)
		}
	})
	t.Run("stop-signal", func(t *testing.T) {
		e.detached([]string{"--name", "sig", "--stop-signal", "USR1"}, ref, "sh", "-c",
			`trap 'echo got USR1; exit 3' USR1; echo ready; while :; do sleep 1; done`)
		defer e.out("rm", "-f", "sig")
		if !eventually(10*time.Second, func() bool { return strings.Contains(e.out("logs", "sig"), "ready") }) {
			t.Fatalf("the container did not start")
		}
		e.out("stop", "sig")
		if code := e.inspect("sig").State.ExitCode; code != 3 || !strings.Contains(e.out("logs", "sig"), "got USR1") {
			t.Errorf("--stop-signal USR1: want the trap's exit 3 and its line: %d %q", code, e.out("logs", "sig"))
		}
	})
	t.Run("stop-timeout", func(t *testing.T) {
		e.detached([]string{"--name", "slow", "--stop-timeout", "1"}, ref, "sh", "-c", `trap '' TERM; echo ready; while :; do sleep 1; done`)
		defer e.out("rm", "-f", "slow")
		if !eventually(10*time.Second, func() bool { return strings.Contains(e.out("logs", "slow"), "ready") }) {
			t.Fatalf("the container did not start")
		}
		start := time.Now()
		e.out("stop", "slow")
		if d := time.Since(start); d > 6*time.Second || e.inspect("slow").State.ExitCode != 137 {
			t.Errorf("--stop-timeout 1, TERM ignored: want SIGKILL after about 1s (exit 137): took %v, exit %d", d, e.inspect("slow").State.ExitCode)
		}
	})
	t.Run("log-driver", func(t *testing.T) {
		e.detached([]string{"--name", "quiet", "--log-driver", "none"}, ref, "echo", "hi")
		defer e.out("rm", "-f", "quiet")
		e.out("wait", "quiet")
		e.wantError(e.run("logs", "quiet"), "no logs are available")

		e.detached([]string{"--name", "rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=2"}, ref, "sh", "-c",
			`i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done`)
		defer e.out("rm", "-f", "rot")
		e.out("wait", "rot")
		path := e.out("inspect", "--format", "{{.LogPath}}", "rot")
		fi, err1 := os.Stat(path)
		_, err2 := os.Stat(path + ".1")
		_, err3 := os.Stat(path + ".2")
		if err1 != nil || err2 != nil || !errors.Is(err3, fs.ErrNotExist) || fi.Size() > 2048 {
			t.Errorf("--log-opt max-size=1k max-file=2: want the log and one rotated file, each about 1k: %v %v %v", err1, err2, err3)
		}
		if out := e.out("logs", "--tail", "1", "rot"); out != "line 199" {
			t.Errorf("logs of a rotated log: want its last line: %q", out)
		}
		e.wantRunError(e.sbx([]string{"--rm", "--log-driver", "none", "--log-opt", "max-size=1k"}, ref, "true"), "--log-opt")
		e.wantRunError(e.sbx([]string{"--rm", "--log-opt", "max-size=0"}, ref, "true"), "--log-opt")
	})
	e.noLeftovers()
}

// --platform is this host's only; --pull missing, always, never.
func TestRunPlatformAndPull(t *testing.T) {
	e := sandboxEnv(t, "")
	ref := plain.Ref("busybox:latest")
	other := "linux/arm64"
	if runtime.GOARCH == "arm64" {
		other = "linux/amd64"
	}
	e.wantRunError(e.sbx([]string{"--rm", "--platform", other}, ref, "true"), "--platform", other)
	e.wantRunError(e.sbx([]string{"--rm", "--pull", "never"}, ref, "true"), "--pull never")
	e.wantRunError(e.run("create", "--pull", "never", ref, "true"), "--pull never")
	e.wantRunError(e.sbx([]string{"--rm", "--pull", "sometimes"}, ref, "true"), "--pull")
	if ids := e.imageIDs(); len(ids) != 0 {
		t.Errorf("--pull never must pull nothing: %q", ids)
	}
	r := e.sbx([]string{"--rm", "--platform", "linux/" + runtime.GOARCH}, ref, "echo", "ran")
	if r.code != 0 || r.stdout != "ran\n" || !strings.Contains(r.stderr, "Unable to find image") {
		t.Errorf("--platform linux/%s of a missing image: want it pulled and run: %s", runtime.GOARCH, r)
	}
	if out := e.sbxOut([]string{"--rm", "--pull", "never"}, ref, "echo", "ran"); out != "ran" {
		t.Errorf("--pull never of a present image: want it run: %q", out)
	}
	r = e.sbx([]string{"--rm", "--pull", "always"}, ref, "echo", "ran")
	if r.code != 0 || r.stdout != "ran\n" || !strings.Contains(r.stderr, "Copying blob") {
		t.Errorf("--pull always: want a pull, then the run: %s", r)
	}
	if out := e.out("ps", "-a", "-q"); out != "" {
		t.Errorf("refused runs must leave no container: %q", out)
	}
	e.noLeftovers()
}
