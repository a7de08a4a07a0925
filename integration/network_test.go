package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/miekg/dns"
)

// udpEcho is the helper's UDP echo server, for published UDP ports.
func udpEcho(port string) int {
	c, err := net.ListenPacket("udp", ":"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("listening")
	buf := make([]byte, 65536)
	for {
		n, addr, err := c.ReadFrom(buf)
		if err != nil {
			return 1
		}
		c.WriteTo(append([]byte("echo:"), buf[:n]...), addr)
	}
}

// udpAsk is the helper's UDP client: it sends msg to addr and prints the
// answer.
func udpAsk(addr, msg string) int {
	c, err := net.Dial("udp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	buf := make([]byte, 1500)
	for i := 0; i < 20; i++ {
		c.Write([]byte(msg))
		c.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		if n, err := c.Read(buf); err == nil {
			fmt.Println(string(buf[:n]))
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, "no answer from", addr)
	return 1
}

// freePort is a TCP (or UDP) port of 127.0.0.1 that nothing holds now.
func freePort(t *testing.T, proto string) int {
	t.Helper()
	if proto == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// httpGet fetches url, retrying while the server comes up.
func httpGet(url string, limit time.Duration) (string, error) {
	var last error
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
		if err != nil {
			last = err
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b), err
	}
	return "", last
}

// httpdFlags serves dir with busybox httpd behind -p.
func httpdFlags(t *testing.T, name string, port int) []string {
	dir := filepath.Join(t.TempDir(), "www")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("hello from "+name+"\n"), 0o644)
	os.Chmod(filepath.Dir(dir), 0o755)
	return []string{"--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "-v", dir + ":/www:ro"}
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// busybox httpd behind -p, fetched from the host; two containers at once;
// ps, port; the port freed after stop and after kill -9 of the monitor.
func TestPublishTCP(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	p1, p2 := freePort(t, "tcp"), freePort(t, "tcp")
	e.detached(httpdFlags(t, "web1", p1), ref, "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	e.detached(httpdFlags(t, "web2", p2), ref, "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	for name, p := range map[string]int{"web1": p1, "web2": p2} {
		body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", p), 15*time.Second)
		if err != nil || body != "hello from "+name+"\n" {
			t.Errorf("GET through -p %d: %q %v", p, body, err)
		}
	}
	// After a second the init has handed over to its C loop, which dials
	// for the published ports from then on.
	time.Sleep(1500 * time.Millisecond)
	if init := e.inspect("web1").State.Pid; !singleThreaded(init) {
		t.Errorf("after a second the init should be the C reaper, one thread: %q", procCmdline(init))
	}
	if body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", p1), 15*time.Second); body != "hello from web1\n" {
		t.Errorf("GET after the hand-over: %q %v", body, err)
	}
	want := fmt.Sprintf("127.0.0.1:%d->80/tcp", p1)
	if ps := e.out("ps", "--filter", "name=web1", "--format", "{{.Ports}}"); ps != want {
		t.Errorf("ps PORTS: want %q, got %q", want, ps)
	}
	if out := e.out("port", "web1"); out != fmt.Sprintf("80/tcp -> 127.0.0.1:%d", p1) {
		t.Errorf("husk port: got %q", out)
	}
	e.out("stop", "web1")
	if !eventually(5*time.Second, func() bool { return portFree(p1) }) {
		t.Errorf("port %d still held after stop", p1)
	}
	syscall.Kill(monitorOf(t, e, "web2"), syscall.SIGKILL)
	if !eventually(10*time.Second, func() bool { return portFree(p2) }) {
		t.Errorf("port %d still held after kill -9 of the monitor", p2)
	}
	// A foreground run publishes as well.
	p3 := freePort(t, "tcp")
	done := make(chan result, 1)
	go func() {
		done <- e.run(append(append([]string{"run", "--rm"}, httpdFlags(t, "fg", p3)...), ref, "busybox", "timeout", "5", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")...)
	}()
	if body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", p3), 15*time.Second); body != "hello from fg\n" {
		t.Errorf("GET through a foreground run's -p: %q %v", body, err)
	}
	<-done
	e.out("rm", "-f", "web1", "web2")
	e.noLeftovers()
}

// peerSite is a directory for busybox httpd -h whose CGI script
// /cgi-bin/peer answers the client's address and port as the server saw
// them (peerGet reads it).
func peerSite(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "www")
	os.MkdirAll(filepath.Join(dir, "cgi-bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "cgi-bin", "peer"), []byte("#!/bin/sh\necho Content-Type: text/plain\necho\necho $REMOTE_ADDR $REMOTE_PORT\n"), 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	return dir
}

// peerGet asks the CGI script peer, behind the published port, for the
// client address the server saw, and returns it with the port this side
// connected from.
func peerGet(port int, limit time.Duration) (seen string, from int, err error) {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second); err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		from = c.LocalAddr().(*net.TCPAddr).Port
		fmt.Fprintf(c, "GET /cgi-bin/peer HTTP/1.0\r\n\r\n")
		b, rerr := io.ReadAll(c)
		c.Close()
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if rerr != nil || !strings.HasPrefix(string(b), "HTTP/1.1 200") {
			err = fmt.Errorf("reply %q: %v", b, rerr)
			continue
		}
		return lines[len(lines)-1], from, nil // the script's line, after its headers
	}
	return "", 0, err
}

// With port_handler=direct a server behind -p accepts the host's
// connections itself: it sees each client's own address and port, as with
// Docker's iptables path, where the default relay shows its own. Inside
// the container, localhost:PORT still reaches it, and a server started
// again there gets the port again.
func TestPublishedPortReachesTheServer(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	dir := peerSite(t)
	p := freePort(t, "tcp")
	// The first server ends after 4 s; the second binds the port again.
	direct := []string{"--network", "builtin:port_handler=direct"}
	e.detached(append([]string{"--name", "peer", "-p", fmt.Sprintf("127.0.0.1:%d:80", p), "-v", dir + ":/www:ro"}, direct...), ref,
		"sh", "-c", "busybox timeout 4 busybox httpd -f -p 80 -h /www; exec busybox httpd -f -p 80 -h /www")
	start := time.Now()
	check := func(when string, port int, own bool) {
		t.Helper()
		// A connection the relay accepted before the server's bind is
		// relayed still: the first answer only says the server is up.
		if _, _, err := peerGet(port, 15*time.Second); err != nil {
			t.Fatalf("%s: GET through -p %d: %v", when, port, err)
		}
		seen, from, err := peerGet(port, 15*time.Second)
		if err != nil {
			t.Fatalf("%s: GET through -p %d: %v", when, port, err)
		}
		if strings.HasSuffix(seen, " "+strconv.Itoa(from)) != own || !strings.Contains(seen, "127.0.0.1") {
			t.Errorf("%s: the server saw the client as %q; the client was 127.0.0.1 port %d (its own port expected: %v)", when, seen, from, own)
		}
	}
	check("first server", p, true)
	// The default relays: the server sees the relay's port, not the client's.
	p2 := freePort(t, "tcp")
	e.detached([]string{"--name", "relayed", "-p", fmt.Sprintf("127.0.0.1:%d:80", p2), "-v", dir + ":/www:ro"}, ref,
		"busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	check("default relay", p2, false)
	e.out("rm", "-f", "relayed")
	inside := e.out("exec", "peer", "wget", "-qO-", "http://localhost:80/cgi-bin/peer")
	if !strings.Contains(inside, "127.0.0.1") {
		t.Errorf("localhost:80 inside the container: got %q", inside)
	}
	time.Sleep(time.Until(start.Add(5 * time.Second)))
	check("second server", p, true)
	e.out("rm", "-f", "peer")
	if !eventually(5*time.Second, func() bool { return portFree(p) }) {
		t.Errorf("port %d still held after rm -f", p)
	}
	// -P with nothing to publish: a bind is answered at once all the same.
	r := e.run(append(append(append([]string{"run", "--rm", "-P"}, direct...), helperVolume(t)...), ref, "busybox", "timeout", "3", helperPath, "udp-echo", "9000")...)
	if !strings.Contains(r.stdout, "listening") {
		t.Errorf("-P with no EXPOSE: the server never got past its bind: %s", r)
	}
	e.noLeftovers()
}

func TestPublishUDP(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	p := freePort(t, "udp")
	flags := append([]string{"--name", "echo", "-p", fmt.Sprintf("127.0.0.1:%d:9000/udp", p)}, helperVolume(t)...)
	e.detached(flags, ref, helperPath, "udp-echo", "9000")
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 100)
	ok := eventually(15*time.Second, func() bool {
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(buf)
		return err == nil && string(buf[:n]) == "echo:ping"
	})
	if !ok {
		t.Errorf("no UDP echo through -p %d/udp", p)
	}
	// Again from a new client once the C init dials.
	time.Sleep(1500 * time.Millisecond)
	c2, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if !eventually(10*time.Second, func() bool {
		c2.Write([]byte("pong"))
		c2.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c2.Read(buf)
		return err == nil && string(buf[:n]) == "echo:pong"
	}) {
		t.Errorf("no UDP echo through -p %d/udp after the hand-over", p)
	}
	e.out("rm", "-f", "echo")
}

// hostServer answers one line on 127.0.0.1 of the host, for egress tests.
func hostServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello from the host\n")
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// Outbound connections to the host's loopback, through each network, only
// with allow_host_loopback=true; the builtin network with neither
// slirp4netns nor pasta on PATH.
func TestEgressToHostLoopback(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	port := hostServer(t)
	// pasta passes the host's close on only when nc's own side closes:
	// timeout ends nc once the line is in.
	fetch := fmt.Sprintf("busybox timeout 5 nc -w 5 host.husk.internal %d; true", port)
	for _, mode := range []string{"builtin", "slirp4netns", "pasta"} {
		t.Run(mode, func(t *testing.T) {
			r := e.sbx([]string{"--rm", "--network", mode + ":allow_host_loopback=true"}, ref, "sh", "-c", fetch)
			if r.code != 0 || !strings.HasPrefix(r.stdout, "hello from the host\n") {
				t.Errorf("egress to the host's loopback: %s", r)
			}
			r = e.sbx([]string{"--rm", "--network", mode}, ref, "sh", "-c", fetch)
			if r.code == 0 && strings.Contains(r.stdout, "hello") {
				t.Errorf("without allow_host_loopback the host's loopback must be out of reach: %s", r)
			}
		})
	}
	t.Run("no-helpers-on-path", func(t *testing.T) {
		bin := t.TempDir()
		os.Chmod(bin, 0o755)
		for _, tool := range []string{"newuidmap", "newgidmap", "getsubids", "fuse-overlayfs"} {
			if p, err := lookPathIn(tool); err == nil {
				os.Symlink(p, filepath.Join(bin, tool))
			}
		}
		e.vars["PATH"] = binDir + ":" + bin
		defer delete(e.vars, "PATH")
		r := e.sbx([]string{"--rm", "--network", "builtin:allow_host_loopback=true"}, ref, "sh", "-c", fetch)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "hello from the host\n") {
			t.Errorf("the builtin network without slirp4netns or pasta: %s", r)
		}
		e.wantError(e.sbx([]string{"--rm", "--network", "slirp4netns"}, ref, "true"), "slirp4netns", "install")
		e.wantError(e.sbx([]string{"--rm", "--network", "pasta"}, ref, "true"), "pasta", "install")
	})
	e.noLeftovers()
}

// The helper of --network slirp4netns or pasta, found by its PID, ends
// with its container, and with the husk that runs it when that is killed
// with kill -9. Foreground runs: a detached container with these networks
// fails to start at times when another container started or stopped just
// before (its init is gone before the helper has joined it).
func TestExternalNetworkHelperEnds(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	for _, mode := range []string{"slirp4netns", "pasta"} {
		s := e.startReady("run", "--rm", "--network", mode, ref, "sh", "-c", "echo ready; sleep 1")
		helper := networkHelper(t, s.cmd.Process.Pid, mode)
		if err := <-s.done; err != nil {
			t.Errorf("%s: run: %v\n%s", mode, err, s.text())
		}
		if !eventually(3*time.Second, func() bool { return !processAlive(helper) }) {
			t.Errorf("%s: its process %d still runs after the container ended", mode, helper)
		}
		s = e.startReady("run", "--rm", "--network", mode, ref, "sh", "-c", "echo ready; exec sleep 1000")
		helper = networkHelper(t, s.cmd.Process.Pid, mode)
		syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL)
		if !eventually(10*time.Second, func() bool { return !processAlive(helper) }) {
			t.Errorf("%s: its process %d still runs after kill -9 of husk", mode, helper)
		}
		<-s.done
	}
	e.noLeftovers()
}

// networkHelper is the PID of the one slirp4netns or pasta that husk
// (parent) runs, found by its parent and name: pasta makes itself
// undumpable, so its command line and environment are unreadable, and it
// runs as passt.avx2 where the CPU has AVX2.
func networkHelper(t *testing.T, parent int, mode string) int {
	t.Helper()
	prefix := map[string]string{"slirp4netns": "slirp4netns", "pasta": "pas"}[mode]
	var found []int
	eventually(5*time.Second, func() bool {
		found = nil
		ents, _ := os.ReadDir("/proc")
		for _, d := range ents {
			pid, err := strconv.Atoi(d.Name())
			if err != nil {
				continue
			}
			comm, ppid, ok := procStat(pid)
			if ok && ppid == parent && strings.HasPrefix(comm, prefix) && processAlive(pid) {
				found = append(found, pid)
			}
		}
		return len(found) == 1
	})
	if len(found) != 1 {
		t.Fatalf("%s: want one child of husk %d running it, found %v", mode, parent, found)
	}
	return found[0]
}

// procStat is a process's name and parent from /proc/PID/stat, which
// every user can read.
func procStat(pid int) (comm string, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	s := string(b)
	i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if i < 0 || j < i {
		return "", 0, false
	}
	f := strings.Fields(s[j+1:])
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return s[i+1 : j], ppid, err == nil
}

// processAlive: pid exists and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func lookPathIn(tool string) (string, error) {
	for _, d := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
		if _, err := os.Stat(filepath.Join(d, tool)); err == nil {
			return filepath.Join(d, tool), nil
		}
	}
	return "", os.ErrNotExist
}

// A DNS lookup inside, answered by a resolver the test runs on the host.
func TestDNS(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if len(q.Question) == 1 && q.Question[0].Name == "probe.husk.test." && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR("probe.husk.test. 60 IN A 192.0.2.77")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	defer srv.Shutdown()
	upstream := pc.LocalAddr().String()
	out := e.sbxOut([]string{"--rm", "--dns", upstream}, ref, "sh", "-c", "cat /etc/resolv.conf; nslookup probe.husk.test")
	if !strings.Contains(out, "nameserver 10.0.2.3") || !strings.Contains(out, "192.0.2.77") {
		t.Errorf("want resolv.conf on the stack's resolver and the test's answer: %q", out)
	}
	// /etc/hosts names the container and host.husk.internal.
	hosts := e.sbxOut([]string{"--rm", "--hostname", "boxname"}, ref, "cat", "/etc/hosts")
	if !strings.Contains(hosts, "10.0.2.100\tboxname") || !strings.Contains(hosts, "host.husk.internal") {
		t.Errorf("/etc/hosts: %q", hosts)
	}
}

func TestPublishFaults(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	r := e.run("run", "-d", "--name", "clash", "-p", fmt.Sprintf("127.0.0.1:%d:80", busy), ref, "sleep", "100")
	e.wantError(r, strconv.Itoa(busy), "in use")
	if st := e.psStatus("clash"); strings.Contains(st, "Up") {
		t.Errorf("a container whose port is taken must not run: %q", st)
	}
	e.run("rm", "-f", "clash")
	r = e.sbx([]string{"--rm", "-p", fmt.Sprintf("127.0.0.1:%d:80", busy)}, ref, "true")
	e.wantError(r, strconv.Itoa(busy), "in use")
	b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if start, _ := strconv.Atoi(strings.TrimSpace(string(b))); start > 1 {
		r = e.sbx([]string{"--rm", "-p", "1:80"}, ref, "true")
		e.wantError(r, "ip_unprivileged_port_start")
	}
	e.wantError(e.sbx([]string{"--rm", "-p", "nonsense"}, ref, "true"), "nonsense")
	e.wantError(e.sbx([]string{"--rm", "--network", "none", "-p", "8080:80"}, ref, "true"), "--network none")
	e.wantError(e.sbx([]string{"--rm", "--network", "builtin:port_handler=fast", "-p", "8080:80"}, ref, "true"), "port_handler=fast", "port_handler=direct")
	e.noLeftovers()
}

// Outbound UDP to a service on the host's loopback, through the builtin stack.
func TestEgressUDP(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("host got "), buf[:n]...), addr)
		}
	}()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	flags := append([]string{"--rm", "--network", "builtin:allow_host_loopback=true"}, helperVolume(t)...)
	if out := e.sbxOut(flags, ref, helperPath, "udp-ask", fmt.Sprintf("10.0.2.2:%d", port), "ping"); out != "host got ping" {
		t.Errorf("UDP from the container to the host: got %q", out)
	}
}

// -P publishes the image's EXPOSE ports on free host ports; a range of
// host ports takes the first free one.
func TestPublishAllAndRange(t *testing.T) {
	e := sandboxEnv(t, "")
	img, err := mutate.Config(images.Busybox, v1.Config{ExposedPorts: map[string]struct{}{"80/tcp": {}}, Cmd: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	ref := plain.Ref("exposing:" + randomHex(4))
	if err := plain.Push(strings.TrimPrefix(ref, plain.Addr+"/"), img); err != nil {
		t.Fatal(err)
	}
	e.pull(ref)
	dir := filepath.Join(t.TempDir(), "www")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("exposed\n"), 0o644)
	os.Chmod(filepath.Dir(dir), 0o755)
	e.detached([]string{"--name", "all", "-P", "-v", dir + ":/www:ro"}, ref, "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	out := e.out("port", "all", "80")
	_, hp, ok := strings.Cut(out, ":")
	if !ok || !strings.HasPrefix(out, "0.0.0.0:") {
		t.Fatalf("husk port all 80: want 0.0.0.0:PORT, got %q", out)
	}
	if body, err := httpGet("http://127.0.0.1:"+hp+"/", 15*time.Second); body != "exposed\n" {
		t.Errorf("GET through -P: %q %v", body, err)
	}
	// A taken port whose next is free: the ports other sockets hold (the
	// -P port above, another test's) may be the next one too.
	busy := hostServer(t)
	for i := 0; i < 20 && !portFree(busy+1); i++ {
		busy = hostServer(t)
	}
	rng := fmt.Sprintf("127.0.0.1:%d-%d:80", busy, busy+1)
	e.detached([]string{"--name", "ranged", "-p", rng, "-v", dir + ":/www:ro"}, ref, "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	if out := e.out("port", "ranged", "80/tcp"); out != fmt.Sprintf("127.0.0.1:%d", busy+1) {
		t.Errorf("-p %s with the first port taken: want the next, got %q", rng, out)
	}
	e.out("rm", "-f", "all", "ranged")
	e.noLeftovers()
}
