package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The first run of an image finds it in the store (a call in the user
// namespace); later runs of the same reference start from the resolved
// image that run recorded, without opening the store. A user must not be able to tell them apart but by speed:
// the same sandbox, the same exit codes and messages, in each strategy.
func TestRunPlanSameSandbox(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, e *env, ref string) {
		vol := filepath.Join(e.home, "vol")
		if err := os.MkdirAll(vol, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vol, "f"), []byte("in the volume\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		flags := []string{"--rm", "--network", "none", "-e", "A=b", "-w", "/work", "-v", vol + ":/data:ro",
			"--tmpfs", "/scratch", "--cap-drop", "NET_RAW", "--hostname", "planned"}
		probe := `id; echo "$HOME $A"; pwd; cat /data/f; grep -E '^(Cap|Seccomp|NoNewPrivs)' /proc/self/status; hostname;
			grep -E ' / | /data | /scratch | /proc/kcore ' /proc/self/mounts | cut -d' ' -f2-4 | sort;
			echo x > /data/g 2>/dev/null || echo read-only volume; ls /dev | tr '\n' ' '`
		// The first run finds the image, the second has its plan, the third
		// is prelaunched.
		first := e.sbxOut(flags, ref, "sh", "-c", probe)
		second := e.sbxOut(flags, ref, "sh", "-c", probe)
		if first != second {
			t.Errorf("the second run's sandbox differs from the first's:\nfirst:\n%s\nsecond:\n%s", first, second)
		}
		if third := e.sbxOut(flags, ref, "sh", "-c", probe); third != first {
			t.Errorf("the third run's sandbox differs from the first's:\nfirst:\n%s\nthird:\n%s", first, third)
		}
		for _, want := range []string{"uid=0(root)", "/root b", "/work", "in the volume", "Seccomp:\t2", "planned", "read-only volume"} {
			if !strings.Contains(second, want) {
				t.Errorf("want %q in the planned run's output:\n%s", want, second)
			}
		}
		// A user from the image's /etc/passwd, with its home.
		if out := e.sbxOut([]string{"--rm", "-u", "root:root"}, ref, "sh", "-c", "id -u; echo $HOME"); out != "0\n/root" {
			t.Errorf("-u root:root: %q", out)
		}
		// Docker's exit codes and one-line messages, each time.
		for i := 0; i < 3; i++ {
			if r := e.sbx([]string{"--rm"}, ref, "no-such-command"); r.code != 127 || !strings.Contains(r.stderr, "executable file not found") {
				t.Errorf("run %d: a missing command: want 127 and a message: %s", i, r)
			}
			if r := e.sbx([]string{"--rm"}, ref, "/etc/passwd"); r.code != 126 {
				t.Errorf("run %d: a file that is not executable: want 126: %s", i, r)
			}
			if r := e.sbx([]string{"--rm", "-u", "nosuchuser"}, ref, "true"); r.code != 125 || !strings.Contains(r.stderr, "nosuchuser") {
				t.Errorf("run %d: an unknown user: want 125 and its name: %s", i, r)
			}
			if r := e.sbx([]string{"--rm"}, ref, "sh", "-c", "exit 7"); r.code != 7 {
				t.Errorf("run %d: want the process's own code 7: %s", i, r)
			}
		}
		// A kept container's root is its own, and writable (under
		// fuse-overlayfs its upper layer is in the store: the daemon must
		// not end up inside the root it serves).
		script := "cat /kept 2>/dev/null; echo kept > /kept"
		if out := strings.TrimSpace(e.ok("run", "--name", "keeper", ref, "sh", "-c", script).stdout); out != "" {
			t.Errorf("keeper's first run found /kept already: %q", out)
		}
		if out := strings.TrimSpace(e.ok("start", "-a", "keeper").stdout); out != "kept" {
			t.Errorf("keeper's second start should find the file its first run wrote: %q", out)
		}
		if out := e.ok("run", "--rm", "--name", "peek", ref, "sh", "-c", "ls /kept 2>&1 || true").stdout; !strings.Contains(out, "No such file") {
			t.Errorf("another container sees keeper's file: %q", out)
		}
		e.ok("rm", "keeper")
	})
}

// A plan never outlives what it describes: retagging the name to another
// image, or removing it, is seen by the next run.
func TestRunPlanFollowsTheStore(t *testing.T) {
	e := sandboxEnv(t, "")
	refs := map[string]string{}
	for _, mark := range []string{"one", "two"} {
		img, err := mutate.Config(images.Busybox, v1.Config{Env: []string{"MARK=" + mark, "PATH=/bin"}, Cmd: []string{"sh"}})
		if err != nil {
			t.Fatal(err)
		}
		repo := "planmark" + strings.ToLower(me.Name) + ":" + mark
		if err := plain.Push(repo, img); err != nil {
			t.Fatal(err)
		}
		refs[mark] = plain.Ref(repo)
		e.pull(refs[mark])
	}
	mark := func() string { return e.sbxOut([]string{"--rm"}, "mine:latest", "sh", "-c", "echo $MARK") }
	e.ok("tag", refs["one"], "mine:latest")
	for i := 0; i < 3; i++ {
		if got := mark(); got != "one" {
			t.Fatalf("run %d of mine:latest tagged from one: MARK=%q", i, got)
		}
	}
	e.ok("tag", refs["two"], "mine:latest")
	if got := mark(); got != "two" {
		t.Errorf("after retagging mine:latest to two, the run still sees MARK=%q", got)
	}
	e.ok("rmi", "mine:latest")
	if r := e.sbx([]string{"--rm"}, "mine:latest", "true"); r.code == 0 {
		t.Errorf("mine:latest was removed, yet it ran: %s", r)
	}
}

// A spec is not limited in size: 300 variables from --env-file reach the
// process on both paths.
func TestRunPlanManyVariables(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	var b strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "V%d=%d\n", i, i)
	}
	file := filepath.Join(e.home, "many.env")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	count := func() string {
		return e.sbxOut([]string{"--rm", "--env-file", file}, ref, "sh", "-c", "env | grep -c '^V[0-9]*='; echo $V299")
	}
	for i := 0; i < 3; i++ {
		if out := count(); out != "300\n299" {
			t.Errorf("run %d: want 300 variables and V299=299, got %q", i, out)
		}
	}
	// The same command line with the file changed sees the change.
	b.WriteString("V300=300\nV299=changed\n")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := count(); out != "301\nchanged" {
		t.Errorf("after the env file changed: want 301 variables and V299=changed, got %q", out)
	}
}
