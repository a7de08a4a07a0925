package network

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// hostGreeter listens on the host's loopback and greets each client.
func hostGreeter(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from the host\n")
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// hostUDPEcho answers each datagram on the host's loopback with "pong".
func hostUDPEcho(t *testing.T) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 100)
		for {
			_, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			c.WriteTo([]byte("pong"), from)
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func TestHostLoopback(t *testing.T) {
	port, udpPort := hostGreeter(t), hostUDPEcho(t)
	for _, allow := range []bool{true, false} {
		t.Run(fmt.Sprint("allow=", allow), func(t *testing.T) {
			sb := startSandbox(t, Config{AllowHostLoopback: allow}, Builtin)
			got, err := sb.do(t, "connect 10.0.2.2:%d", port)
			switch {
			case allow && (err != nil || got != "hello from the host"):
				t.Fatalf("connect through the gateway = %q, %v; want the host's greeting", got, err)
			case !allow && (err == nil || !strings.Contains(err.Error(), "refused")):
				t.Fatalf("connect through the gateway = %q, %v; want connection refused", got, err)
			}
			got, err = sb.do(t, "udp 10.0.2.2:%d", udpPort)
			if allow != (err == nil && got == "pong") {
				t.Errorf("UDP through the gateway = %q, %v; want an answer: %v", got, err, allow)
			}
			// Nobody else lives on the virtual subnet.
			if _, err := sb.do(t, "connect 10.0.2.3:%d", port); err == nil {
				t.Error("connect to the DNS address on a TCP port other than 53 worked")
			}
		})
	}
}

// TestARP checks that the stack answers ARP for its own addresses only.
func TestARP(t *testing.T) {
	sb := startSandbox(t, Config{}, Builtin)
	for ip, want := range map[string]string{"10.0.2.2": gatewayMAC.String(), "10.0.2.3": gatewayMAC.String(), "10.0.2.50": "incomplete"} {
		if got, err := sb.do(t, "arp %s", ip); err != nil || got != want {
			t.Errorf("neighbour %s = %q, %v; want %s", ip, got, err, want)
		}
	}
}

// testResolver is a tiny DNS server on the host's loopback, UDP and TCP on
// one port, knowing one name.
func testResolver(t *testing.T) string {
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg).SetReply(q)
		if q.Question[0].Name == "example.test." && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR("example.test. 60 IN A 192.0.2.7")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*dns.Server{{Listener: ln, Handler: h}, {PacketConn: pc, Handler: h}} {
		go srv.ActivateAndServe()
	}
	t.Cleanup(func() { ln.Close(); pc.Close() })
	return ln.Addr().String()
}

func TestDNS(t *testing.T) {
	sb := startSandbox(t, Config{DNSUpstreams: []string{testResolver(t)}}, Builtin)
	for _, c := range []struct{ net, name, want string }{
		{"udp", "example.test.", "192.0.2.7"},
		{"tcp", "example.test.", "192.0.2.7"},
		{"udp", HostName + ".", "10.0.2.2"},
	} {
		if got, err := sb.do(t, "dns %s 10.0.2.3 %s", c.net, c.name); err != nil || got != c.want {
			t.Errorf("%s query for %s = %q, %v; want %s", c.net, c.name, got, err, c.want)
		}
	}
	if _, err := sb.do(t, "dns udp 10.0.2.3 missing.test."); err == nil || !strings.Contains(err.Error(), "NXDOMAIN") {
		t.Errorf("query for a missing name: %v; want the upstream's NXDOMAIN", err)
	}
}

// publish binds specs on the host and serves them into sb until cleanup.
func publish(t testing.TB, sb *sandbox, specs ...string) []Port {
	ports, err := ParsePorts(specs)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen(ports, false)
	if err != nil {
		t.Fatal(err)
	}
	l.OnError = func(err error) { t.Log(err) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Serve(ctx, Dialer(sb.conn)); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Ports()
}

func TestPublish(t *testing.T) {
	sb := startSandbox(t, Config{}, Builtin)
	sb.must(t, "listen-tcp 8080")
	sb.must(t, "listen-udp 9090")
	ports := publish(t, sb, "127.0.0.1::8080", "127.0.0.1::9090/udp", "127.0.0.1::7070")
	t.Run("tcp", func(t *testing.T) { checkTCPEcho(t, ports[0].HostPort) })
	t.Run("udp", func(t *testing.T) { checkUDPEcho(t, ports[1].HostPort) })
	t.Run("nothing inside", func(t *testing.T) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[2].HostPort))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("read %d bytes from a port with no listener inside", n)
		}
	})
}

// checkTCPEcho reads the greeting, then checks that a half close comes
// back as the end of the echo.
func checkTCPEcho(t *testing.T, port int) {
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || line != "hello from inside\n" {
		t.Fatalf("greeting = %q, %v", line, err)
	}
	fmt.Fprint(c, "ping\n")
	c.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(r); err != nil || string(rest) != "ping\n" {
		t.Fatalf("echo = %q, %v", rest, err)
	}
}

func checkUDPEcho(t *testing.T, port int) {
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 100)
	for i := range 3 { // the first datagram also sets the flow up
		msg := fmt.Sprintf("datagram %d", i)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(msg))
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("echo of %q = %q, %v", msg, buf[:n], err)
		}
	}
}

func TestListenErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().(*net.TCPAddr).Port
	cases := []struct {
		spec, want string
	}{
		{fmt.Sprintf("127.0.0.1:%d:80", busy), "-p OTHER:80"},
		{"192.0.2.1:8080:80", "not an address of this host"},
	}
	if start := unprivilegedPortStart(); start > 80 && !canBindLow() {
		cases = append(cases, struct{ spec, want string }{"127.0.0.1:80:80", "net.ipv4.ip_unprivileged_port_start=80"})
	}
	for _, c := range cases {
		ports, err := ParsePorts([]string{c.spec})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Listen(ports, false)
		t.Logf("Listen(%s): %v", c.spec, err)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Listen(%s) = %v; want one line with %q", c.spec, err, c.want)
		}
	}
}

// canBindLow is whether this process may bind port 80 (root may).
func canBindLow() bool {
	ln, err := net.Listen("tcp", "127.0.0.1:80")
	if err == nil {
		ln.Close()
	}
	return err == nil
}

func TestParsePorts(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	v6 := netip.MustParseAddr("::1")
	ok := []struct {
		spec string
		want []Port
	}{
		{"80", []Port{{ContainerPort: 80, Proto: "tcp"}}},
		{"8080:80", []Port{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}},
		{"127.0.0.1:8080:80/udp", []Port{{HostIP: lo, HostPort: 8080, ContainerPort: 80, Proto: "udp"}}},
		{"127.0.0.1::80", []Port{{HostIP: lo, ContainerPort: 80, Proto: "tcp"}}},
		{"[::1]:8080:80", []Port{{HostIP: v6, HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}},
		{"8000-8001:80-81", []Port{{HostPort: 8000, ContainerPort: 80, Proto: "tcp"}, {HostPort: 8001, ContainerPort: 81, Proto: "tcp"}}},
		{"8000-8009:80", []Port{{HostPort: 8000, HostPortEnd: 8009, ContainerPort: 80, Proto: "tcp"}}},
		{"80-81", []Port{{ContainerPort: 80, Proto: "tcp"}, {ContainerPort: 81, Proto: "tcp"}}},
	}
	for _, c := range ok {
		got, err := ParsePorts([]string{c.spec})
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("ParsePorts(%q) = %v, %v; want %v", c.spec, got, err, c.want)
		}
	}
	for _, spec := range []string{"", "0", "70000", "80/sctp", "a:80", "8000-8002:80-81", "90-80", "1.2.3.4:5:6:7", "[::1]80", "8080:80:"} {
		if got, err := ParsePorts([]string{spec}); err == nil {
			t.Errorf("ParsePorts(%q) = %v; want an error", spec, got)
		}
	}
	if _, err := ParsePorts([]string{"8080:80", "8080:81"}); err == nil {
		t.Error("the same host port twice: no error")
	}
}

func TestExternal(t *testing.T) {
	port := hostGreeter(t)
	for _, mode := range []string{Slirp4netns, Pasta} {
		t.Run(mode, func(t *testing.T) {
			if _, err := exec.LookPath(mode); err != nil {
				t.Skipf("%s is not installed", mode)
			}
			sb := startSandbox(t, Config{AllowHostLoopback: true}, mode)
			if got, err := sb.do(t, "connect 10.0.2.2:%d", port); err != nil || got != "hello from the host" {
				t.Errorf("connect through the gateway = %q, %v; want the host's greeting", got, err)
			}
			sb.must(t, "listen-tcp 8080")
			ports := publish(t, sb, "127.0.0.1::8080")
			checkTCPEcho(t, ports[0].HostPort)
		})
	}
}

// TestExternalFails checks that a helper's own reason reaches the user.
func TestExternalFails(t *testing.T) {
	for _, mode := range []string{Slirp4netns, Pasta} {
		if _, err := exec.LookPath(mode); err != nil {
			continue
		}
		_, err := StartExternal(mode, 999999999, Config{}) // above any pid_max: no such process
		t.Logf("%s: %v", mode, err)
		if err == nil || !strings.Contains(err.Error(), mode) || strings.Contains(err.Error(), "\n") {
			t.Errorf("StartExternal(%s) for no process = %v; want one line naming %s", mode, err, mode)
		}
	}
}

func TestExternalMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := StartExternal(Slirp4netns, os.Getpid(), Config{})
	if err == nil || !strings.Contains(err.Error(), "apt-get install slirp4netns") || strings.Contains(err.Error(), "\n") {
		t.Errorf("StartExternal without slirp4netns = %v; want one line naming the package", err)
	}
}

// TestStackEnds checks that RunStack returns, uncancelled, when the tap
// device is deleted inside the sandbox.
func TestStackEnds(t *testing.T) {
	sb := startSandbox(t, Config{}, Builtin)
	sb.must(t, "del-link tap0")
	select {
	case <-sb.stackDone:
	case <-time.After(10 * time.Second):
		t.Fatal("RunStack still runs 10s after the tap device was deleted")
	}
}
