package integration

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

// RUN steps get husk's builtin network by default (its tap0 at
// 10.0.2.100, as `husk run` gets); --network host gives the host's
// interfaces; --network builtin:allow_host_loopback=true lets a step reach
// a server on the host's loopback through host.husk.internal, which the
// default refuses.
func TestBuildNetwork(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "from-host") })}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	links := `RUN cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' ' | sort > /links`
	step := func(name, hostName string, flags ...string) {
		t.Helper()
		fetch := fmt.Sprintf(`RUN (timeout 10 wget -q -O - http://%s:%d/ || echo refused) > /got`, hostName, port)
		dir := e.buildCtx(name, map[string]string{"Dockerfile": "FROM " + ref + "\nRUN echo " + name + "\n" + links + "\n" + fetch + "\n" +
			"RUN (ip -o -4 addr show tap0 2>/dev/null | awk '{print $4}'; test -e /sys/class/net/tap0 && echo sys-tap0 || true) > /addr\n"})
		e.ok(append(append([]string{"build"}, flags...), "-t", name, dir)...)
	}
	show := func(name string) string {
		t.Helper()
		return e.ok("run", "--rm", "--network", "none", name, "sh", "-c", "cat /links; echo --; cat /got; echo; echo --; cat /addr").stdout
	}
	step("netdefault", "host.husk.internal")
	if out := show("netdefault"); out != "lo\ntap0\n--\nrefused\n\n--\n10.0.2.100/24\nsys-tap0\n" {
		t.Errorf("default RUN network: want lo and tap0 at 10.0.2.100, the host's loopback refused; got %q", out)
	}
	step("netloop", "host.husk.internal", "--network", "builtin:allow_host_loopback=true")
	if out := show("netloop"); !strings.Contains(out, "--\nfrom-host\n--\n10.0.2.100/24\n") {
		t.Errorf("--network builtin:allow_host_loopback=true: want the host's server reached; got %q", out)
	}
	step("nethost", "127.0.0.1", "--network", "host")
	dev, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	var host []string
	for _, l := range strings.Split(string(dev), "\n")[2:] {
		if n, _, ok := strings.Cut(l, ":"); ok {
			host = append(host, strings.TrimSpace(n))
		}
	}
	slices.Sort(host)
	out := show("nethost")
	if got, _, _ := strings.Cut(out, "--\n"); got != strings.Join(host, "\n")+"\n" {
		t.Errorf("--network host: RUN saw links %q, the host has %q", got, host)
	}
	if !strings.Contains(out, "--\nfrom-host\n") {
		t.Errorf("--network host: the host's loopback server not reached: %q", out)
	}
	e.wantError(e.run("build", "--network", "pasta", e.buildCtx("netbad", map[string]string{"Dockerfile": "FROM " + ref + "\n"})), "--network pasta")
}
