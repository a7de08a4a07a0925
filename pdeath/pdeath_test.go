package pdeath

import (
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// retireThreads ends n of the runtime's threads, as store's chroot unpack
// does: a goroutine that locked its thread returns without unlocking it.
// Each runs first on the thread of the goroutine that started it.
func retireThreads(n int) {
	for i := 0; i < n; i++ {
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(done)
		}()
		<-done
	}
}

// A child started under Hold outlives every thread the runtime retires
// while it runs: the thread that forked it is not among them.
func TestHoldKeepsTheChild(t *testing.T) {
	release := Hold()
	defer release()
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() { cmd.Process.Kill(); <-exited }()
	retireThreads(50)
	select {
	case <-exited:
		t.Fatalf("the child ended while its holder ran: %v", cmd.ProcessState)
	case <-time.After(300 * time.Millisecond):
	}
}
