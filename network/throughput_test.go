package network

import (
	"flag"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"
)

var (
	rounds = flag.Int("throughput.rounds", 3, "measurements of each path, and of loopback beside it; the best counts")
	secs   = flag.Int("throughput.secs", 3, "seconds of each iperf3 run")
)

// BenchmarkThroughput measures with iperf3 what the issue asks of the
// network, each path against host loopback measured just before it:
//
//	go test -run '^$' -bench Throughput -benchtime 1x ./network/
//
// published: a host client through a published port to a server inside
// (the splice path; goal 0.8 of loopback). egress and ingress: a client
// inside sending to, or (-R) receiving from, a server on the host through
// the userspace stack (goal 0.3); egress through slirp4netns and pasta for
// comparison. On a shared machine the figures swing: the best of a few
// rounds of each is what is reported.
func BenchmarkThroughput(b *testing.B) {
	if _, err := exec.LookPath("iperf3"); err != nil {
		b.Skip("iperf3 is not installed (apt-get install iperf3)")
	}
	t := fmt.Sprint(*secs)
	sb := startSandbox(b, Config{AllowHostLoopback: true}, Builtin)
	sb.must(b, "iperf3 -s -p 5201")
	pub := publish(b, sb, "127.0.0.1::5201")[0].HostPort
	paths := []struct {
		name string
		run  func(b *testing.B) float64
	}{
		{"published", func(b *testing.B) float64 {
			return must(b)(iperfClient("-c", "127.0.0.1", "-p", fmt.Sprint(pub), "-t", t))
		}},
		{"egress", func(b *testing.B) float64 { return hostIperf(b, inside(b, sb, t, "")) }},
		{"ingress", func(b *testing.B) float64 { return hostIperf(b, inside(b, sb, t, " -R")) }},
	}
	// The helpers' egress, for comparison, where they are installed.
	for _, mode := range []string{Slirp4netns, Pasta} {
		if _, err := exec.LookPath(mode); err == nil {
			ext := startSandbox(b, Config{AllowHostLoopback: true}, mode)
			paths = append(paths, struct {
				name string
				run  func(b *testing.B) float64
			}{"egress-" + mode, func(b *testing.B) float64 { return hostIperf(b, inside(b, ext, t, "")) }})
		}
	}
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			var loop, got float64
			for range *rounds {
				loop = max(loop, hostIperf(b, func(port int) (float64, error) {
					return iperfClient("-c", "127.0.0.1", "-p", fmt.Sprint(port), "-t", t)
				}))
				got = max(got, p.run(b))
			}
			b.ReportMetric(loop/1e9, "loopback-Gbit/s")
			b.ReportMetric(got/1e9, "Gbit/s")
			b.ReportMetric(got/loop, "of-loopback")
		})
	}
}

// inside runs an iperf3 client in sb against the host's loopback port,
// through the gateway.
func inside(b *testing.B, sb *sandbox, secs, extra string) func(int) (float64, error) {
	return func(port int) (float64, error) {
		var bps float64
		out, err := sb.do(b, "iperf3 -c 10.0.2.2 -p %d -t %s%s", port, secs, extra)
		if err == nil {
			_, err = fmt.Sscan(out, &bps)
		}
		return bps, err
	}
}

func must(b *testing.B) func(float64, error) float64 {
	return func(v float64, err error) float64 {
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
}

// hostIperf runs a one-shot iperf3 server on the host's loopback for client.
func hostIperf(b *testing.B, client func(port int) (float64, error)) float64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	srv := exec.Command("iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	time.Sleep(300 * time.Millisecond) // until it listens
	return must(b)(client(port))
}
