package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// The traffic tool: the bench binary itself, bound into containers, as a
// TCP sink (traffic-server PORT) and a timed sender (traffic-client ADDR
// SECONDS, which prints Gbit/s). It is static, so it runs in the busybox
// image.

func trafficMain(args []string) {
	switch {
	case len(args) == 2 && args[0] == "traffic-server":
		os.Exit(trafficServer(":" + args[1]))
	case len(args) == 3 && args[0] == "traffic-client":
		secs, _ := strconv.Atoi(args[2])
		g, err := trafficClient(args[1], time.Duration(secs)*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%.3f\n", g)
		os.Exit(0)
	}
}

func trafficServer(addr string) int {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return 1
		}
		go sink(c)
	}
}

// sink reads and drops with large reads, as iperf3 does: io.Discard's 8 KB
// chunks would make the receiver the bottleneck.
func sink(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 256<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// trafficClient sends for d and returns Gbit/s, retrying while the server
// comes up: a forwarder may accept before the server behind it listens,
// and then resets the connection.
func trafficClient(addr string, d time.Duration) (float64, error) {
	var c net.Conn
	var err error
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if c, err = net.Dial("tcp", addr); err != nil {
			continue
		}
		if _, err = c.Write(make([]byte, 1)); err == nil {
			time.Sleep(50 * time.Millisecond)
			_, err = c.Write(make([]byte, 1))
		}
		if err == nil {
			break
		}
		c.Close()
	}
	if err != nil {
		return 0, err
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	var n int64
	start := time.Now()
	for time.Since(start) < d {
		k, err := c.Write(buf)
		n += int64(k)
		if err != nil {
			return 0, err
		}
	}
	return float64(n*8) / time.Since(start).Seconds() / 1e9, nil
}
