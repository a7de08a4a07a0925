package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// User-defined networks (issue 18): containers on one network reach each
// other by address, name and alias through the network's switch and DNS;
// other networks cannot reach them; the switch lives while a member runs.

// webServer is a busybox httpd on port 80 answering /index.html with body.
func webServer(body string) []string {
	return []string{"sh", "-c", fmt.Sprintf("mkdir -p /www && echo %s > /www/index.html && exec httpd -f -p 80 -h /www", body)}
}

// fetch is a client command that prints what url answers, trying for a
// few seconds while the server comes up, or "unreachable".
func fetch(url string) []string {
	return []string{"sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -qO- " + url + " 2>/dev/null && exit; sleep 0.5; done; echo unreachable"}
}

// fetchOnce tries once: for what must not be reached.
func fetchOnce(url string) []string {
	return []string{"sh", "-c", "timeout 3 wget -qO- " + url + " 2>/dev/null || echo unreachable"}
}

// switchPIDs are the network switches this test started that still run.
func (e *env) switchPIDs() []int {
	var out []int
	for _, pid := range markedProcesses(e.vars[markVar]) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.HasPrefix(string(b), "husk\x00network-switch\x00") {
			out = append(out, pid)
		}
	}
	return out
}

func TestUserNetworkNamesAndIsolation(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.ok("network", "create", "--subnet", "10.91.7.0/24", "app")
	e.ok("network", "create", "other")
	if ls := e.out("network", "ls", "--format", "{{.Name}} {{.Subnet}}"); !strings.Contains(ls, "app 10.91.7.0/24") || !strings.Contains(ls, "other 10.89.") {
		t.Errorf("network ls: %q", ls)
	}
	e.ok(append([]string{"run", "-d", "--name", "srv", "--network", "app", "--network-alias", "db", "--ip", "10.91.7.50", ref}, webServer("hello-srv")...)...)
	if len(e.switchPIDs()) != 1 {
		t.Fatalf("want one switch process while srv runs, got %v", e.switchPIDs())
	}
	// Other users never reach a user's networks: the switch's socket sits
	// in directories only the user may enter.
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", e.switchPIDs()[0]))
	sock := strings.Split(string(b), "\x00")[2]
	for _, dir := range []string{filepath.Dir(sock), filepath.Dir(filepath.Dir(sock))} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
			t.Errorf("the switch's directory %s must be the user's own, mode 0700: %v %v", dir, fi.Mode(), err)
		}
	}
	for _, url := range []string{"http://srv/", "http://db/", "http://10.91.7.50/"} {
		if got := e.sbxOut([]string{"--rm", "--network", "app"}, ref, fetch(url)...); got != "hello-srv" {
			t.Errorf("from a container on the same network, %s: got %q", url, got)
		}
	}
	resolv := e.sbxOut([]string{"--rm", "--network", "app"}, ref, "cat", "/etc/resolv.conf")
	if !strings.Contains(resolv, "nameserver 10.91.7.1") {
		t.Errorf("resolv.conf on a user network: want the gateway 10.91.7.1: %q", resolv)
	}
	// Another network's container neither resolves nor reaches it.
	if got := e.sbxOut([]string{"--rm", "--network", "other"}, ref, fetchOnce("http://srv/")...); got != "unreachable" {
		t.Errorf("from another network by name: got %q", got)
	}
	if got := e.sbxOut([]string{"--rm", "--network", "other"}, ref, fetchOnce("http://10.91.7.50/")...); got != "unreachable" {
		t.Errorf("from another network by address: got %q", got)
	}
	if got := e.sbxOut([]string{"--rm"}, ref, fetchOnce("http://10.91.7.50/")...); got != "unreachable" {
		t.Errorf("from the default network by address: got %q", got)
	}
	// inspect lists the member with its address.
	if got := e.out("network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}", "app"); got != "srv 10.91.7.50/24" {
		t.Errorf("network inspect: %q", got)
	}
	// Docker's JSON names work in a format as the Go ones do.
	if id, ID := e.out("network", "inspect", "-f", "{{.Id}}", "app"), e.out("network", "inspect", "-f", "{{.ID}}", "app"); len(id) != 64 || id != ID {
		t.Errorf("network inspect -f {{.Id}}: %q, {{.ID}}: %q", id, ID)
	}
	// An address in use, and one outside the subnet, are refused in one line.
	e.wantError(e.sbx([]string{"--rm", "--network", "app", "--ip", "10.91.7.50"}, ref, "true"), "10.91.7.50", "in use")
	e.wantError(e.sbx([]string{"--rm", "--network", "app", "--ip", "10.1.1.1"}, ref, "true"), "10.1.1.1", "10.91.7.0/24")
	e.wantError(e.sbx([]string{"--rm", "--network", "nosuch"}, ref, "true"), "nosuch", "husk network ls")
	// In use: rm refused; the network outlives restarts of its container.
	e.wantError(e.run("network", "rm", "app"), "in use by container srv")
	e.ok("stop", "-t", "1", "srv")
	if !eventually(5*time.Second, func() bool { return len(e.switchPIDs()) == 0 }) {
		t.Errorf("the switch still runs with no member: %v", e.switchPIDs())
	}
	e.ok("start", "srv")
	if got := e.sbxOut([]string{"--rm", "--network", "app"}, ref, fetch("http://db/")...); got != "hello-srv" {
		t.Errorf("after a restart of srv: got %q", got)
	}
	e.ok("rm", "-f", "srv")
	e.ok("network", "rm", "app")
	if got := e.out("network", "prune", "-f"); got != "other" {
		t.Errorf("network prune: %q", got)
	}
	if got := e.out("network", "ls", "-q"); got != "" {
		t.Errorf("networks left: %q", got)
	}
	e.noLeftovers()
}

// --internal has no way out; a network with allow_host_loopback reaches
// the host's loopback through host.husk.internal; published ports work on
// a user network as on the default one.
func TestUserNetworkEgressAndPorts(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	port := hostServer(t)
	get := fmt.Sprintf("busybox timeout 5 nc -w 5 host.husk.internal %d; true", port)
	e.ok("network", "create", "-o", "allow_host_loopback=true", "out")
	e.ok("network", "create", "--internal", "-o", "allow_host_loopback=true", "closed")
	if got := e.sbxOut([]string{"--rm", "--network", "out"}, ref, "sh", "-c", get); got != "hello from the host" {
		t.Errorf("egress from a user network: %q", got)
	}
	if got := e.sbxOut([]string{"--rm", "--network", "closed"}, ref, "sh", "-c", get); strings.Contains(got, "hello") {
		t.Errorf("an --internal network reached the host: %q", got)
	}
	// Names still resolve inside an --internal network.
	e.ok(append([]string{"run", "-d", "--name", "in", "--network", "closed", ref}, webServer("inside")...)...)
	if got := e.sbxOut([]string{"--rm", "--network", "closed"}, ref, fetch("http://in/")...); got != "inside" {
		t.Errorf("within an --internal network: %q", got)
	}
	hp := freePort(t, "tcp")
	e.ok(append([]string{"run", "-d", "--name", "pub", "--network", "out", "-p", fmt.Sprintf("127.0.0.1:%d:80", hp), ref}, webServer("published")...)...)
	if body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", hp), 10*time.Second); body != "published\n" {
		t.Errorf("a published port of a container on a user network: %q, %v", body, err)
	}
	e.ok("rm", "-f", "in", "pub")
	e.noLeftovers()
}

// connect and disconnect, on a running container (a device of its own
// for the network, made inside it) and on a stopped one (its networks at
// the next start, each a device); the network a running container
// started on stays until it stops.
func TestUserNetworkConnect(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.ok("network", "create", "--subnet", "10.92.0.0/24", "one")
	e.ok("network", "create", "--subnet", "10.93.0.0/24", "two")
	// Running, on the default network: connect, then disconnect.
	e.ok(append([]string{"run", "-d", "--name", "srv", ref}, webServer("connected")...)...)
	e.ok("network", "connect", "--alias", "web", "one", "srv")
	if got := e.sbxOut([]string{"--rm", "--network", "one"}, ref, fetch("http://web/")...); got != "connected" {
		t.Errorf("after connect of a running container: %q", got)
	}
	if got := e.out("exec", "srv", "sh", "-c", "ip -4 addr | grep -c 'inet 10.92.0.'"); got != "1" {
		t.Errorf("the running container's address on the network: %q", got)
	}
	e.ok("network", "disconnect", "one", "srv")
	if got := e.sbxOut([]string{"--rm", "--network", "one"}, ref, fetchOnce("http://10.92.0.2/")...); got != "unreachable" {
		t.Errorf("after disconnect of a running container: %q", got)
	}
	if got := e.out("exec", "srv", "sh", "-c", "ip -4 addr | grep -c 'inet 10.92.0.' || true"); got != "0" {
		t.Errorf("the device is left after disconnect: %q", got)
	}
	e.ok("rm", "-f", "srv")
	// Stopped: two networks, both joined at start.
	e.ok(append([]string{"create", "--name", "two-nets", "--network", "one", ref}, webServer("both")...)...)
	e.ok("network", "connect", "two", "two-nets")
	e.ok("start", "two-nets")
	for _, n := range []string{"one", "two"} {
		if got := e.sbxOut([]string{"--rm", "--network", n}, ref, fetch("http://two-nets/")...); got != "both" {
			t.Errorf("from network %s: %q", n, got)
		}
	}
	e.wantError(e.run("network", "disconnect", "one", "two-nets"), "started on", "husk stop two-nets")
	e.ok("network", "disconnect", "two", "two-nets")
	if got := e.sbxOut([]string{"--rm", "--network", "two"}, ref, fetchOnce("http://10.93.0.2/")...); got != "unreachable" {
		t.Errorf("after disconnect from the second network: %q", got)
	}
	e.ok("stop", "-t", "1", "two-nets")
	e.ok("network", "disconnect", "one", "two-nets")
	e.ok("rm", "two-nets")
	e.ok("network", "rm", "one", "two")
	e.noLeftovers()
}

// A container re-created with the address of one that went away is
// reached at once by a peer that talked to the first: the address keeps
// its MAC, so the peer's ARP cache stays right, and the frames never
// reach the gateway, whose reset would refuse the connection.
func TestUserNetworkRecreatedPeer(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.ok("network", "create", "--subnet", "10.91.9.0/24", "re")
	e.ok("run", "-d", "--name", "cli", "--network", "re", ref, "sleep", "300")
	for _, body := range []string{"first", "second"} {
		e.ok(append([]string{"run", "-d", "--name", "srv", "--network", "re", "--ip", "10.91.9.20", ref}, webServer(body)...)...)
		if got := e.out(append([]string{"exec", "srv"}, fetch("http://127.0.0.1/")...)...); got != body {
			t.Fatalf("the %s server from inside: got %q", body, got)
		}
		// Exactly one try: the server is up, and a stale ARP entry in
		// the peer would make this attempt fail.
		if got := e.out(append([]string{"exec", "cli"}, fetchOnce("http://10.91.9.20/")...)...); got != body {
			t.Errorf("one try from the peer to the %s server: got %q", body, got)
		}
		mac := e.out("exec", "srv", "cat", "/sys/class/net/tap0/address")
		if mac != "02:42:0a:5b:09:14" {
			t.Errorf("the %s server's MAC: want 02:42 and its address, got %q", body, mac)
		}
		e.ok("rm", "-f", "srv")
	}
	e.ok("rm", "-f", "cli")
	e.ok("network", "rm", "re")
	e.noLeftovers()
}

// Repeated `run --rm --network NAME` runs are prelaunched (issue 18's start
// latency): the first run's launch reserves its address and each run that
// follows claims it; a run while another holds it takes the usual path
// with an address of its own. Both are members that reach the network's
// server by name, and removing the network leaves nothing behind.
func TestUserNetworkPrelaunchedRuns(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.ok("network", "create", "--subnet", "10.91.11.0/24", "pre")
	e.ok(append([]string{"run", "-d", "--name", "srv", "--network", "pre", "--ip", "10.91.11.50", ref}, webServer("hello-pre")...)...)
	gate := filepath.Join(e.home, "pregate")
	if err := os.MkdirAll(gate, 0o755); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(gate, "open")
	if err := os.WriteFile(open, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	script := "ip -4 addr show tap0 | grep -o 'inet [0-9.]*'; echo ready; while [ ! -e /gate/open ]; do sleep 0.05; done; " +
		"for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -qO- http://srv/ 2>/dev/null && exit; sleep 0.5; done; echo unreachable"
	args := runArgs([]string{"--rm", "--network", "pre", "-v", gate + ":/gate"}, ref, "sh", "-c", script)
	addr := func(out string) string {
		a, _, _ := strings.Cut(out, "\n")
		return strings.TrimPrefix(a, "inet ")
	}
	var first string
	for i := 0; i < 3; i++ {
		out := e.ok(args...).stdout
		if !strings.HasSuffix(out, "ready\nhello-pre\n") || !strings.HasPrefix(addr(out), "10.91.11.") {
			t.Fatalf("run %d: want its address, ready and the server's answer, got %q", i, out)
		}
		if i == 0 {
			first = addr(out)
		} else if addr(out) != first {
			t.Errorf("run %d: want the address the launch reserved, %s, got %s", i, first, addr(out))
		}
	}
	if err := os.Remove(open); err != nil {
		t.Fatal(err)
	}
	// Two at once: one holds the reserved address, the other another.
	s1 := e.startReady(args...)
	s2 := e.startReady(args...)
	stdout := func(s *started) string { return strings.TrimPrefix(s.text(), "--- stdout:\n") }
	a1, a2 := addr(stdout(s1)), addr(stdout(s2))
	if a1 == a2 || !strings.HasPrefix(a1, "10.91.11.") || !strings.HasPrefix(a2, "10.91.11.") {
		t.Errorf("two runs at once on one network: want two addresses, got %q and %q", a1, a2)
	}
	if err := os.WriteFile(open, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, s := range []*started{s1, s2} {
		if code := s.wait(t, 60*time.Second); code != 0 || !strings.Contains(s.text(), "hello-pre\n") {
			t.Errorf("run %d of the two: code %d, %q", i, code, s.text())
		}
	}
	e.ok("rm", "-f", "srv")
	e.ok("network", "rm", "pre")
	e.noLeftovers()
}
