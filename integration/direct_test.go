package integration

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tcpServe is the helper's TCP server for the direct path: it listens on
// port, sets on its listening socket the TCP options servers set there,
// prints how each went, takes one connection and prints the client's port
// as it saw it.
func tcpServe(port string) int {
	p, _ := strconv.Atoi(port)
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		err = unix.Bind(s, &unix.SockaddrInet4{Port: p})
	}
	if err == nil {
		err = unix.Listen(s, 8)
	}
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	for _, o := range []struct {
		name string
		opt  int
		val  int
	}{{"TCP_USER_TIMEOUT", unix.TCP_USER_TIMEOUT, 30000}, {"TCP_WINDOW_CLAMP", unix.TCP_WINDOW_CLAMP, 1 << 20}, {"TCP_DEFER_ACCEPT", unix.TCP_DEFER_ACCEPT, 1}} {
		if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, o.opt, o.val); err != nil {
			fmt.Printf("%s: %v\n", o.name, err)
		} else {
			fmt.Printf("%s: ok\n", o.name)
		}
	}
	fmt.Println("listening")
	a, peer, err := unix.Accept(s)
	if err != nil {
		fmt.Println("accept:", err)
		return 1
	}
	defer unix.Close(a)
	if p, ok := peer.(*unix.SockaddrInet4); ok {
		fmt.Println("peer:", p.Port)
	}
	unix.Write(a, []byte("hello\n"))
	return 0
}

// The listening socket the direct path hands a server is a plain TCP
// socket of the host, as the server made one: the TCP options servers set
// on it take, and the server sees the client's own port.
func TestDirectPortIsTheServersSocket(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	p := freePort(t, "tcp")
	flags := append([]string{"--name", "opts", "-p", fmt.Sprintf("127.0.0.1:%d:80", p), "--network", "builtin:port_handler=direct"}, helperVolume(t)...)
	e.detached(flags, ref, helperPath, "tcp-serve", "80")
	logs := func() string { return e.run("logs", "opts").stdout }
	if !eventually(15*time.Second, func() bool { return strings.Contains(logs(), "listening") }) {
		t.Fatalf("the helper never listened: %q", logs())
	}
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), 5*time.Second)
	if err != nil {
		t.Fatalf("connecting to -p %d: %v", p, err)
	}
	defer c.Close()
	from := c.LocalAddr().(*net.TCPAddr).Port
	c.Write([]byte("x")) // TCP_DEFER_ACCEPT: the server accepts once data came
	if !eventually(15*time.Second, func() bool { return strings.Contains(logs(), "peer:") }) {
		t.Fatalf("the helper took no connection: %q", logs())
	}
	out := logs()
	if !strings.Contains(out, fmt.Sprintf("peer: %d\n", from)) {
		t.Errorf("the server saw another client than port %d (not the direct path?): %q", from, out)
	}
	for _, o := range []string{"TCP_USER_TIMEOUT", "TCP_WINDOW_CLAMP", "TCP_DEFER_ACCEPT"} {
		if !strings.Contains(out, o+": ok\n") {
			t.Errorf("setting %s on the handed socket: %q", o, out)
		}
	}
	e.out("rm", "-f", "opts")
	e.noLeftovers()
}

// A server that husk exec starts is handed the published port as the
// container's own are: here after the container's first server, which
// took the port, has ended.
func TestDirectPortServesAnExecdServer(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	dir := peerSite(t)
	p := freePort(t, "tcp")
	e.detached([]string{"--name", "ex", "-p", fmt.Sprintf("127.0.0.1:%d:80", p), "-v", dir + ":/www:ro", "--network", "builtin:port_handler=direct"}, ref,
		"sh", "-c", "busybox timeout 3 busybox httpd -f -p 80 -h /www; exec sleep 60")
	if _, _, err := peerGet(p, 15*time.Second); err != nil {
		t.Fatalf("the container's own server through -p %d: %v", p, err)
	}
	if !eventually(10*time.Second, func() bool { return !strings.Contains(e.out("top", "ex"), "httpd") }) {
		t.Fatal("the container's first server did not end")
	}
	done := make(chan result, 1)
	go func() {
		done <- e.run("exec", "ex", "busybox", "timeout", "8", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	}()
	seen, from, err := peerGet(p, 6*time.Second)
	if err != nil {
		t.Fatalf("the exec'd server through -p %d: %v; exec: %s", p, err, <-done)
	}
	if !strings.HasSuffix(seen, " "+strconv.Itoa(from)) {
		t.Errorf("the exec'd server saw the client as %q; the client was port %d", seen, from)
	}
	if r := <-done; strings.Contains(r.stderr, "bind") {
		t.Errorf("the exec'd server could not bind: %s", r)
	}
	e.out("rm", "-f", "ex")
	e.noLeftovers()
}
