package userns

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The test binary re-runs itself in a user namespace, as rootlesskit's and
// runc's test suites do: inside, TestMain runs the step named by
// envTestChild instead of the tests.
const envTestChild = "HUSK_USERNS_TEST_CHILD"

func TestMain(m *testing.M) {
	if err := ChildInit(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(125)
	}
	if step := os.Getenv(envTestChild); step != "" {
		os.Exit(childStep(step))
	}
	os.Exit(m.Run())
}

func childStep(step string) int {
	switch step {
	case "maps":
		for _, f := range []string{"/proc/self/uid_map", "/proc/self/gid_map"} {
			b, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			os.Stdout.Write(b)
		}
		fmt.Printf("uid=%d mode=%s\n", os.Getuid(), Mode())
		return 0
	case "exit7":
		return 7
	}
	return 99
}

// runChild starts this test binary in the namespace with plan.
func runChild(t *testing.T, mapping *Mapping, step string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), envTestChild+"="+step)
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := Start(mapping, cmd, 0); err != nil {
		t.Skipf("user namespaces unavailable here: %v", err)
	}
	code := exitCode(cmd.Wait())
	return out.String(), code
}

func singlePlan() *Mapping {
	uid, gid := os.Getuid(), os.Getgid()
	return &Mapping{Mode: ModeSingle, UID: uid, GID: gid,
		UIDMap: []IDMap{{0, uid, 1}}, GIDMap: []IDMap{{0, gid, 1}}}
}

func TestSingleMapping(t *testing.T) {
	out, code := runChild(t, singlePlan(), "maps")
	if code != 0 {
		t.Fatalf("child exited %d: %s", code, out)
	}
	f := strings.Fields(out)
	want := []string{"0", fmt.Sprint(os.Getuid()), "1", "0", fmt.Sprint(os.Getgid()), "1", "uid=0", "mode=single"}
	if strings.Join(f, " ") != strings.Join(want, " ") {
		t.Fatalf("got %q, want %q", f, want)
	}
}

func TestExitCodePassesThrough(t *testing.T) {
	if _, code := runChild(t, singlePlan(), "exit7"); code != 7 {
		t.Fatalf("exit code %d, want 7", code)
	}
}

// TestSubuidMapping runs only for a user with ranges and usable helpers.
func TestSubuidMapping(t *testing.T) {
	mapping, err := Detect()
	if err != nil || mapping.Mode != ModeSubuid || os.Geteuid() == 0 {
		t.Skip("no subordinate ranges for this user")
	}
	out, code := runChild(t, mapping, "maps")
	if code != 0 || !strings.Contains(out, "uid=0 mode=subuid") || len(strings.Split(strings.TrimSpace(out), "\n")) < 5 {
		t.Fatalf("child exited %d: %s", code, out)
	}
}
