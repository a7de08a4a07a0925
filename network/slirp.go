package network

import (
	"os"
	"strconv"
	"time"
)

// startSlirp runs slirp4netns. It writes to the ready pipe once tap0 is
// configured, and exits when the exit pipe closes: on stop, or with the
// monitor.
func startSlirp(pid int, cfg Config) (func(), error) {
	bin, err := lookHelper(Slirp4netns, "slirp4netns")
	if err != nil {
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return nil, err
	}
	userNS, netNS := nsPaths(pid)
	args := []string{"--configure", "--mtu=" + strconv.Itoa(cfg.MTU), "--cidr=" + cfg.Subnet.String(),
		"--ready-fd=3", "--exit-fd=4", "--enable-seccomp",
		"--userns-path=" + userNS, "--netns-type=path", netNS, cfg.TapName}
	if !cfg.AllowHostLoopback {
		args = append([]string{"--disable-host-loopback"}, args...)
	}
	h, err := startHelper(bin, args, readyW, exitR)
	readyW.Close()
	exitR.Close()
	if err != nil {
		exitW.Close()
		return nil, err
	}
	stop := func() { exitW.Close(); h.stop() }
	readyR.SetReadDeadline(time.Now().Add(readyTimeout))
	if _, err := readyR.Read(make([]byte, 1)); err != nil { // EOF: it exited
		exitW.Close()
		return nil, h.failed(Slirp4netns)
	}
	return stop, nil
}
