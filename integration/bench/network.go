package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The network bench (issue 5): TCP throughput from the host into a
// published port and from a container out to a host service, each as a
// ratio to the host's own loopback measured in the same run, with
// podman's figures beside them; and the start latency the default network
// adds to `husk run --rm IMAGE true`.

const (
	trafficSecs      = 4
	goalPublished    = 0.8
	goalEgress       = 0.3
	goalNetLatencyMS = 20.0
)

func benchNetwork(h, podman *starter, ref string) {
	self, err := os.Executable()
	if err != nil {
		fmt.Println("network: cannot find the bench binary:", err)
		return
	}
	vol := self + ":/tb:ro"
	fmt.Printf("\nnetwork: TCP throughput, %d s each, the traffic tool on both ends\n", trafficSecs)
	lo, err := hostLoopback(self)
	if err != nil {
		fmt.Println("  loopback failed:", err)
		return
	}
	fmt.Printf("  host loopback              %6.2f Gbit/s\n", lo)
	report := func(name string, g float64, err error, goal float64) {
		if err != nil {
			fmt.Printf("  %-26s failed: %v\n", name, err)
			return
		}
		line := fmt.Sprintf("  %-26s %6.2f Gbit/s  %.2f of loopback", name, g, g/lo)
		if goal > 0 {
			line += fmt.Sprintf("  (goal >= %.1f: %s)", goal, verdict(g/lo >= goal))
		}
		fmt.Println(line)
	}
	husk := func(args ...string) *exec.Cmd {
		c := exec.Command(h.argv[0], args...)
		c.Env = h.env
		return c
	}
	g, err := published(husk, "husk run -d", nil, vol, ref)
	report("husk published port", g, err, goalPublished)
	g, err = published(husk, "husk run -d", []string{"--network", "builtin:port_handler=direct"}, vol, ref)
	report("  with port_handler=direct", g, err, goalPublished)
	g, err = egress(husk, []string{"--network", "builtin:allow_host_loopback=true"}, vol, ref)
	report("husk egress (builtin)", g, err, goalEgress)
	for _, mode := range []string{"pasta", "slirp4netns"} {
		if _, err := exec.LookPath(mode); err == nil {
			g, err = egress(husk, []string{"--network", mode + ":allow_host_loopback=true"}, vol, ref)
			report("husk egress ("+mode+")", g, err, 0)
		}
	}
	if podman.missing == "" && podman.failed == nil {
		pod := func(args ...string) *exec.Cmd {
			global := podman.argv[1:indexOf(podman.argv, "run")]
			c := exec.Command(podman.argv[0], append(append([]string{}, global...), args...)...)
			c.Env = podman.env
			return c
		}
		rt := []string{"--runtime", podman.argv[indexOf(podman.argv, "--runtime")+1]}
		g, err = published(func(args ...string) *exec.Cmd { return pod(withAfter(args, "run", rt)...) }, "podman run -d", nil, vol, ref)
		report("podman published port", g, err, 0)
		g, err = egress(func(args ...string) *exec.Cmd { return pod(withAfter(args, "run", rt)...) },
			[]string{"--network", "slirp4netns:allow_host_loopback=true"}, vol, ref)
		report("podman egress (slirp4netns)", g, err, 0)
	}
	netLatency(h, ref)
}

// withAfter inserts extra after the first occurrence of word.
func withAfter(args []string, word string, extra []string) []string {
	i := indexOf(args, word)
	if i == len(args) {
		return args
	}
	return append(append(append([]string{}, args[:i+1]...), extra...), args[i+1:]...)
}

// hostLoopback is the reference: the same tool, sender and receiver in two
// processes as in every other path, over the host's loopback.
func hostLoopback(self string) (float64, error) {
	port, err := freeTCP()
	if err != nil {
		return 0, err
	}
	go trafficServer(fmt.Sprintf("127.0.0.1:%d", port))
	out, err := exec.Command(self, "traffic-client", fmt.Sprintf("127.0.0.1:%d", port), strconv.Itoa(trafficSecs)).Output()
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
}

// published runs the sink in a container behind -p and sends to it.
func published(tool func(...string) *exec.Cmd, what string, netFlags []string, vol, ref string) (float64, error) {
	port, err := freeTCP()
	if err != nil {
		return 0, err
	}
	args := append(append([]string{"run", "-d"}, netFlags...), "-p", fmt.Sprintf("127.0.0.1:%d:5201", port), "-v", vol, ref, "/tb", "traffic-server", "5201")
	out, err := tool(args...).Output()
	if err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	id := strings.TrimSpace(string(out))
	defer tool("rm", "-f", id).Run()
	return trafficClient(fmt.Sprintf("127.0.0.1:%d", port), trafficSecs*time.Second)
}

// egress runs the sender in a container towards a sink on the host's
// loopback, reached through the gateway (10.0.2.2).
func egress(tool func(...string) *exec.Cmd, netFlags []string, vol, ref string) (float64, error) {
	port, err := freeTCP()
	if err != nil {
		return 0, err
	}
	go trafficServer(fmt.Sprintf("127.0.0.1:%d", port))
	args := append(append([]string{"run", "--rm"}, netFlags...), "-v", vol, ref, "/tb", "traffic-client", fmt.Sprintf("10.0.2.2:%d", port), strconv.Itoa(trafficSecs))
	out, err := tool(args...).Output()
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
}

func freeTCP() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// netLatency is what the default network adds to a start: `husk run --rm
// IMAGE true` with it and with --network none, interleaved.
func netLatency(h *starter, ref string) {
	var with, without []time.Duration
	for range 15 {
		for _, net := range []string{"", "none"} {
			args := []string{"run", "--rm"}
			if net != "" {
				args = append(args, "--network", net)
			}
			start := time.Now()
			if err := command(h.env, h.argv[0], append(args, ref, "true")...); err != nil {
				fmt.Println("  network latency failed:", err)
				return
			}
			if net == "" {
				with = append(with, time.Since(start))
			} else {
				without = append(without, time.Since(start))
			}
		}
	}
	slices.Sort(with)
	slices.Sort(without)
	d := ms(with[len(with)/2]) - ms(without[len(without)/2])
	fmt.Printf("  start with the default network %.1f ms, with --network none %.1f ms: +%.1f ms (goal < %.0f: %s)\n",
		ms(with[len(with)/2]), ms(without[len(without)/2]), d, goalNetLatencyMS, verdict(d < goalNetLatencyMS))
}
