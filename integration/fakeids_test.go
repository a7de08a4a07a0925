package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The id-changing calls busybox has no plain applet for. Registered as a
// variable, so that the map holds them before the helper's init dispatches.
var _ = func() bool {
	helperCalls["setgroups"] = func() error { return unix.Setgroups([]int{1234}) }
	helperCalls["setresuid"] = func() error { return unix.Setresuid(1234, 1234, 1234) }
	return true
}()

// Without subuid ranges, id changes and chowns to other owners succeed
// without effect (seccomp.FakeIDs) unless --security-opt fake-ids=false;
// with ranges they are real. husk info says which.
func TestFakeIDsRun(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	single := !e.subuid()

	var info struct {
		Seccomp struct{ FakeIDs bool } `json:"seccomp"`
	}
	if err := json.Unmarshal([]byte(e.ok("info", "--format", "json").stdout), &info); err != nil {
		t.Fatal(err)
	}
	if info.Seccomp.FakeIDs != single {
		t.Errorf("husk info: seccomp.fakeIDs = %t, want %t (subuid ranges: %t)", info.Seccomp.FakeIDs, single, !single)
	}

	got := e.shOut(ref, "touch /f && chown 1234:1234 /f && echo ok && stat -c %u:%g /f")
	want := "ok\n1234:1234"
	if single {
		want = "ok\n0:0" // faked: the one id inside stays
	}
	if got != want {
		t.Errorf("chown 1234:1234: got %q, want %q", got, want)
	}
	res := helperResults(t, e, ref, nil, "setgroups", "setresuid")
	if res["setgroups"] != "ok" || res["setresuid"] != "ok" {
		t.Errorf("setgroups, setresuid: want both ok, got %q", res)
	}
	if single {
		if got := e.shOut(ref, "busybox mknod /null c 1 3 && echo ok; test -e /null || echo none"); got != "ok\nnone" {
			t.Errorf("mknod of a device: want success and no node, got %q", got)
		}
	}

	off := []string{"--security-opt", "fake-ids=false"}
	r := e.sbx(off, ref, "sh", "-c", "touch /f && chown 1234:1234 /f")
	if single == (r.code == 0) {
		t.Errorf("chown with fake-ids=false: want it to fail exactly without subuid ranges: %s", r)
	}
	if r := e.sbx([]string{"--security-opt", "fake-ids=maybe"}, ref, "true"); r.code != 125 || !strings.Contains(r.stderr, "fake-ids=true or fake-ids=false") {
		t.Errorf("fake-ids=maybe: want exit 125 naming the choices: %s", r)
	}
}

// A build's RUN changes owners and switches user (busybox su: setgroups,
// setgid, setuid) as both users; without ranges the changes are faked.
func TestFakeIDsBuild(t *testing.T) {
	e := newEnv(t)
	single := !e.subuid()
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + plain.Ref("busybox:latest") + `
RUN touch /f && chown 1234:1234 /f && busybox su tester -c "id -u" > /su-uid
`})
	e.ok("build", "-t", "fake", dir)
	got := e.shOut("fake", "cat /su-uid; stat -c %u:%g /f")
	want := "1000\n1234:1234"
	if single {
		want = "0\n0:0"
	}
	if got != want {
		t.Errorf("after RUN chown and su: got %q, want %q", got, want)
	}

	// Not from the cache: the faked step's layer does not serve it.
	r := e.run("build", "--security-opt", "fake-ids=false", "-t", "nofake", dir)
	if single && r.code != 1 {
		t.Errorf("fake-ids=false without subuid ranges: want the RUN to fail (exit 1): %s", r)
	}
	if !single && r.code != 0 {
		t.Errorf("fake-ids=false with subuid ranges: want the build to work: %s", r)
	}
}
