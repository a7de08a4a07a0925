package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// scanScript looks at every other process of the container, over and
// over for $SECS seconds: a /proc/PID/exe that reads (its target), one
// that opens for writing, one that does not read (hidden), and a command
// line holding $WANT. It ends with the number of scans and whether it saw
// the `sleep 7` of an exec.
const scanScript = `
end=$(( $(date +%s) + SECS )); n=0; seen=0
while [ $(date +%s) -lt $end ]; do
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = "$$" ] || [ "$p" = 1 ] && continue
		if t=$(readlink $d/exe 2>/dev/null); then echo "exe $p $t"; elif [ -e $d ]; then echo "hidden $p"; fi
		if (: >> $d/exe) 2>/dev/null; then echo "writable $p"; fi
		c=$(tr '\0' ' ' < $d/cmdline 2>/dev/null)
		case "$c" in *"$WANT"*) echo "cmdline $p $c";; esac
		[ "$c" = "sleep 7 " ] && seen=1
	done
	n=$((n+1))
done
echo "scans $n seen $seen"
`

// From inside a container that may trace its processes (--cap-add
// SYS_PTRACE), while husk exec runs there again and again: no process's
// /proc/PID/exe opens for writing or reads as husk's binary (the
// joining process is undumpable, and the execve replaces it), and no
// command line shows the secret given to exec with -e. PID 1, the
// container's init, is the init's own matter, not exec's: the scan
// leaves it out.
func TestExecUnreachableFromInside(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	secret := "s3cret-" + randomHex(8)
	e.detached([]string{"--name", "probe", "--cap-add", "SYS_PTRACE"}, ref, "sleep", "1000")
	scan := make(chan result, 1)
	go func() {
		scan <- e.run("exec", "-e", "WANT="+secret, "-e", "SECS=6", "probe", "sh", "-c", scanScript)
	}()
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	long := e.command(ctx, "exec", "-e", "SECRET="+secret, "probe", "sleep", "7")
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 15; i++ {
		if r := e.run("exec", "-e", "SECRET="+secret, "probe", "true"); r.code != 0 {
			t.Errorf("exec true: %s", r)
		}
	}
	r := <-scan
	if err := long.Wait(); err != nil {
		t.Errorf("exec sleep 7: %v", err)
	}
	if r.code != 0 {
		t.Fatalf("the scan: %s", r)
	}
	husk := filepath.Base(huskBin)
	seen := map[string]bool{}
	for _, l := range lines(r.stdout) {
		if seen[l] {
			continue
		}
		seen[l] = true
		f := strings.Fields(l)
		switch {
		case f[0] == "exe" && len(f) > 2 && (strings.Contains(l, huskBin) || filepath.Base(f[2]) == husk):
			t.Errorf("process %s's /proc/PID/exe reads as husk's binary from inside: %s", f[1], l)
		case f[0] == "writable":
			t.Errorf("process %s's /proc/PID/exe opens for writing from inside", f[1])
		case f[0] == "cmdline":
			t.Errorf("a command line inside shows exec's -e secret: %s", l)
		case f[0] == "hidden":
			// An exec's process before its execve: undumpable.
			t.Logf("%s", l)
		case f[0] == "scans":
			t.Logf("%s", l)
			if len(f) < 4 || f[1] == "0" || f[3] != "1" {
				t.Errorf("the scan did not look while an exec ran: %s", l)
			}
		}
	}
	e.out("rm", "-f", "probe")
	e.noLeftovers()
}

// husk exec's flags, the codes of what fails, and a terminal, as the
// container's own process has them: the user and group from the image's
// files, its HOME, -w, -e over the container's environment.
func TestExecFlagsAndCodes(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--name", "flags", "-e", "FROM_RUN=1"}, ref, "sleep", "1000")
	// The single mapping has uid 0 alone.
	user, want := "root:root", "0 0 /root"
	if me.Subuid {
		user, want = "tester:nogroup", "1000 65534 /home/tester"
	}
	show := `echo $(id -u) $(id -g) $HOME; echo $(pwd) $FOO $FROM_RUN`
	if out := e.out("exec", "-u", user, "-w", "/tmp", "-e", "FOO=bar", "-e", "FROM_RUN=2", "flags", "sh", "-c", show); out != want+"\n/tmp bar 2" {
		t.Errorf("exec -u %s -w -e: got %q, want %q", user, out, want+"\n/tmp bar 2")
	}
	if me.Subuid {
		if out := e.out("exec", "-u", "1000:65534", "flags", "sh", "-c", "echo $(id -u) $(id -g)"); out != "1000 65534" {
			t.Errorf("exec -u 1000:65534: got %q", out)
		}
	} else {
		r := e.run("exec", "-u", "tester", "flags", "true")
		e.wantError(r, "not mapped")
		if r.code != 125 {
			t.Errorf("exec -u tester without subordinate ids: want 125: %s", r)
		}
	}
	e.wantError(e.run("exec", "-u", "nosuch", "flags", "true"), "nosuch")
	codes := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"flags", "sh", "-c", "exit 7"}, 7, ""},
		{[]string{"flags", "no-such-command"}, 127, "executable file not found"},
		{[]string{"flags", "/no/such"}, 127, "no such file"},
		{[]string{"flags", "/etc/passwd"}, 126, "ermission denied"},
		{[]string{"-w", "/no/such/dir", "flags", "true"}, 125, "/no/such/dir"},
	}
	for _, c := range codes {
		r := e.run(append([]string{"exec"}, c.args...)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("exec %s: want %d and %q: %s", strings.Join(c.args, " "), c.code, c.msg, r)
		}
		if c.msg != "" && len(errorLines(r.stderr)) != 1 {
			t.Errorf("exec %s: want one line of error: %s", strings.Join(c.args, " "), r)
		}
	}
	// A terminal: the process's own, owned by its user.
	uid := strings.Fields(want)[0]
	tm := e.startTerm(25, 81, "exec", "-it", "-u", user, "flags", "sh", "-c",
		`echo size=$(stty size) owner=$(stat -c %u /proc/self/fd/0); read x; exit 5`)
	tm.waitFor(fmt.Sprintf(`size=25 81 owner=%s`, uid), 10*time.Second)
	tm.ptmx.Write([]byte("\r"))
	if code := tm.exit(10 * time.Second); code != 5 {
		t.Errorf("exec -it: want the shell's exit code 5, got %d", code)
	}
	tm.checkRestored()
	e.out("rm", "-f", "flags")
	e.noLeftovers()
}
