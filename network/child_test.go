package network

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
)

// childCommand runs one test command inside the sandbox's namespaces.
func childCommand(name string, args []string) (string, error) {
	switch name {
	case "connect": // connect ADDR: the first line the server sends
		return connectLine(args[0])
	case "udp": // udp ADDR: the answer to one datagram
		return udpExchange(args[0])
	case "dns": // dns udp|tcp SERVER NAME: the first A record
		return lookupA(args[0], args[1], args[2])
	case "listen-tcp": // listen-tcp PORT: greet, then echo
		return "", serveGreeter(args[0])
	case "listen-udp": // listen-udp PORT: echo
		return "", serveUDPEcho(args[0])
	case "iperf3": // iperf3 ARGS...: a client's bits per second, or start a server
		return runIperf(args)
	case "arp": // arp IP: the neighbour's hardware address, once asked for
		return neighbour(args[0])
	case "del-link": // del-link NAME
		l, err := netlink.LinkByName(args[0])
		if err == nil {
			err = netlink.LinkDel(l)
		}
		return "", err
	}
	return "", fmt.Errorf("unknown command %q", name)
}

func connectLine(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func udpExchange(addr string) (string, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		return "", err
	}
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

func lookupA(network, server, name string) (string, error) {
	q := new(dns.Msg).SetQuestion(name, dns.TypeA)
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(q, net.JoinHostPort(server, "53"))
	if err != nil {
		return "", err
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String(), nil
		}
	}
	return "", fmt.Errorf("no A record: %s", dns.RcodeToString[r.Rcode])
}

// serveGreeter greets each client, then echoes until its half close.
func serveGreeter(port string) error {
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fmt.Fprintf(c, "hello from inside\n")
				io.Copy(c, c)
			}()
		}
	}()
	return nil
}

func serveUDPEcho(port string) error {
	c, err := net.ListenPacket("udp", ":"+port)
	if err != nil {
		return err
	}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			c.WriteTo(buf[:n], from)
		}
	}()
	return nil
}

// servers are the child's background commands, stopped when it exits.
var servers []*exec.Cmd

func stopServers() {
	for _, c := range servers {
		c.Process.Kill()
		c.Wait()
	}
}

// runIperf starts "iperf3 -s" in the background, or runs a client and
// returns its bits per second.
func runIperf(args []string) (string, error) {
	if len(args) > 0 && args[0] == "-s" {
		cmd := exec.Command("iperf3", args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the child, even killed
		if err := cmd.Start(); err != nil {
			return "", err
		}
		servers = append(servers, cmd)
		time.Sleep(300 * time.Millisecond) // until it listens
		return "", nil
	}
	bps, err := iperfClient(args...)
	return fmt.Sprint(bps), err
}

// iperfClient runs an iperf3 client and returns the received bits per second.
func iperfClient(args ...string) (float64, error) {
	out, err := exec.Command("iperf3", append([]string{"-J"}, args...)...).Output()
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		return 0, fmt.Errorf("iperf3 %v: %v %v", args, err, jerr)
	}
	if r.Error != "" {
		return 0, fmt.Errorf("iperf3 %v: %s", args, r.Error)
	}
	return r.End.SumReceived.BitsPerSecond, nil
}

// neighbour makes the kernel resolve ip (a datagram to it), then reads the
// ARP table: "incomplete" when nobody answered.
func neighbour(ip string) (string, error) {
	c, err := net.Dial("udp", net.JoinHostPort(ip, "9"))
	if err != nil {
		return "", err
	}
	c.Write([]byte("x"))
	c.Close()
	time.Sleep(300 * time.Millisecond)
	b, err := os.ReadFile("/proc/net/arp")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		// IP address, HW type, Flags, HW address, Mask, Device
		if f := strings.Fields(line); len(f) >= 4 && f[0] == ip {
			if f[2] == "0x0" {
				return "incomplete", nil
			}
			return f[3], nil
		}
	}
	return "", fmt.Errorf("%s is not in the ARP table", ip)
}
