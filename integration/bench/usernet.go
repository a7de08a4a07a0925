package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"husk/integration"
)

// The user-network bench (issue 18): TCP throughput between two containers
// on a user-defined network, iperf3 on both ends, as a ratio to iperf3 over
// the host's loopback in the same run; and the start latency a user network
// adds to a warm `husk run --rm IMAGE true`.

var onlyUsernet = flag.Bool("only-usernet", false, "run only the user-network bench")

const (
	usernetSecs       = 5
	goalUsernet       = 0.5
	goalUsernetLatMS  = 10.0
	usernetLatRuns    = 15
	iperfConnectTries = 50
)

func benchUsernet(husk, work string, reg *integration.Registry) error {
	fmt.Println("\nusernet: a user-defined network (husk network create)")
	iperf, err := exec.LookPath("iperf3")
	if err != nil {
		fmt.Println("  skipped: iperf3 is not installed (apt-get install iperf3)")
		return nil
	}
	bb, err := integration.BusyboxImage()
	if err != nil {
		return err
	}
	ip, err := integration.Iperf3Image()
	if err != nil {
		return err
	}
	if err := reg.Push("busybox:latest", bb); err != nil {
		return err
	}
	if err := reg.Push("iperf3:latest", ip); err != nil {
		return err
	}
	home := filepath.Join(work, "usernet-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	h := &starter{argv: []string{husk}, env: append(baseEnv(home), "HUSK_ROOT="+filepath.Join(work, "usernet-store"))}
	defer func() {
		if err := command(h.env, husk, "system", "reset", "-f"); err != nil {
			fmt.Fprintln(os.Stderr, "bench: cleaning husk's store:", err)
		}
	}()
	bbRef, ipRef := reg.Ref("busybox:latest"), reg.Ref("iperf3:latest")
	for _, ref := range []string{bbRef, ipRef} {
		if err := command(h.env, husk, "pull", "-q", ref); err != nil {
			return err
		}
	}
	if err := command(h.env, husk, "network", "create", "benchnet"); err != nil {
		return err
	}
	usernetThroughput(h, iperf, ipRef)
	usernetLatency(h, bbRef)
	return nil
}

// husk runs husk with the bench's store.
func (h *starter) husk(args ...string) *exec.Cmd {
	c := exec.Command(h.argv[0], args...)
	c.Env = h.env
	return c
}

// usernetThroughput: an iperf3 server in one container, the client in
// another reaching it by name, against both on the host's loopback.
func usernetThroughput(h *starter, iperf, ref string) {
	fmt.Printf("  TCP throughput, iperf3 on both ends, %d s each\n", usernetSecs)
	lo, err := hostIperf(iperf)
	if err != nil {
		fmt.Println("  host loopback failed:", err)
		return
	}
	fmt.Printf("  host loopback                  %6.2f Gbit/s\n", lo)
	if err := command(h.env, h.argv[0], "run", "-d", "--network", "benchnet", "--name", "iperf-server", ref, "iperf3", "-s"); err != nil {
		fmt.Println("  the server container failed:", err)
		return
	}
	defer func() { _ = command(h.env, h.argv[0], "rm", "-f", "iperf-server") }()
	g, addr, err := iperfClient(func() *exec.Cmd {
		return h.husk("run", "--rm", "--network", "benchnet", ref, "iperf3", "-J", "-c", "iperf-server", "-t", strconv.Itoa(usernetSecs))
	})
	if err != nil {
		fmt.Println("  container to container failed:", err)
		return
	}
	fmt.Printf("  container to container         %6.2f Gbit/s  %.2f of loopback  (goal >= %.1f: %s; iperf-server at %s)\n",
		g, g/lo, goalUsernet, verdict(g/lo >= goalUsernet), addr)
}

// hostIperf is the reference: iperf3's server and client on the host.
func hostIperf(iperf string) (float64, error) {
	port, err := freeTCP()
	if err != nil {
		return 0, err
	}
	srv := exec.Command(iperf, "-s", "-p", strconv.Itoa(port))
	if err := srv.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = syscall.Kill(srv.Process.Pid, syscall.SIGKILL)
		_ = srv.Wait()
	}()
	g, _, err := iperfClient(func() *exec.Cmd {
		return exec.Command(iperf, "-J", "-c", "127.0.0.1", "-p", strconv.Itoa(port), "-t", strconv.Itoa(usernetSecs))
	})
	return g, err
}

// iperfClient runs the client that cmd makes, again while the server comes
// up, and returns what the server received in Gbit/s and the server's
// address.
func iperfClient(cmd func() *exec.Cmd) (float64, string, error) {
	var res struct {
		Error string
		Start struct {
			Connected []struct {
				RemoteHost string `json:"remote_host"`
			}
		}
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		}
	}
	var err error
	for try := 0; try < iperfConnectTries; try++ {
		var out []byte
		out, err = cmd().Output()
		res.Error = ""
		if jerr := json.Unmarshal(out, &res); jerr != nil {
			err = fmt.Errorf("iperf3 -J: %v: %s", err, lastLines(string(out), 3))
		} else if res.Error != "" {
			err = fmt.Errorf("iperf3: %s", res.Error)
		} else if err == nil && len(res.Start.Connected) > 0 {
			return res.End.SumReceived.BitsPerSecond / 1e9, res.Start.Connected[0].RemoteHost, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, "", err
}

// usernetLatency: warm `run --rm IMAGE true` with --network NET and
// without, interleaved; with the network idle (no switch runs)
// and with a member running (the switch is up). A quick run (true) never
// joins the switch: its sandbox sends no packet (prelaunch.c).
func usernetLatency(h *starter, ref string) {
	fmt.Printf("  start latency, run --rm IMAGE true, warm, %d runs each, interleaved; medians\n", usernetLatRuns)
	measure := func(what string) {
		var with, without []time.Duration
		for i := -2; i < usernetLatRuns; i++ { // two untimed warm-ups
			for _, net := range []bool{true, false} {
				args := []string{"run", "--rm"}
				if net {
					args = append(args, "--network", "benchnet")
				}
				start := time.Now()
				if err := command(h.env, h.argv[0], append(args, ref, "true")...); err != nil {
					fmt.Println("  start latency failed:", err)
					return
				}
				d := time.Since(start)
				switch {
				case i < 0:
				case net:
					with = append(with, d)
				default:
					without = append(without, d)
				}
			}
		}
		slices.Sort(with)
		slices.Sort(without)
		w, wo := with[len(with)/2], without[len(without)/2]
		diff := ms(w) - ms(wo)
		fmt.Printf("  %-31s %6.1f ms with --network benchnet, %6.1f ms without: +%.1f ms, %.2f x  (goal < %.0f ms: %s)\n",
			what, ms(w), ms(wo), diff, w.Seconds()/wo.Seconds(), goalUsernetLatMS, verdict(diff < goalUsernetLatMS))
	}
	measure("network idle (no member runs)")
	if err := command(h.env, h.argv[0], "run", "-d", "--network", "benchnet", "--name", "member", ref, "sleep", "600"); err != nil {
		fmt.Println("  a member for the second measure failed:", err)
		return
	}
	defer func() { _ = command(h.env, h.argv[0], "rm", "-f", "member") }()
	measure("a member runs (switch up)")
}
