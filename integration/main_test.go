// Package integration runs the real husk binary, as the unprivileged user
// running the tests, against real docker-registry servers on 127.0.0.1.
// integration/run.sh (make test) builds everything and runs this suite as
// husk-sub (with /etc/subuid ranges) and husk-nosub (without).
package integration

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Set once by TestMain.
var (
	huskBin  string    // $HUSK_BIN
	binDir   string    // holds a "husk" link, first on the PATH husk sees
	plain    *Registry // plain HTTP, no auth
	secure   *Registry // TLS with the harness CA, htpasswd basic auth
	fullDisk string    // a small tmpfs for the disk-full test ($HUSK_TEST_FULLDISK)
	me       testUser
	images   testImages
)

type testUser struct {
	Name   string
	UID    int
	Subuid bool // has /etc/subuid ranges: husk maps uids 0..65535
}

type testImages struct {
	Busybox   v1.Image
	Layers    v1.Image
	Multiarch v1.ImageIndex
	Escapes   map[string]v1.Image
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	huskBin = os.Getenv("HUSK_BIN")
	if huskBin == "" {
		fmt.Fprintln(os.Stderr, "integration: HUSK_BIN is not set: build husk (make husk) and run with HUSK_BIN=/abs/path/to/husk, or run make test")
		return 1
	}
	if abs, err := filepath.Abs(huskBin); err == nil {
		huskBin = abs
	}
	if st, err := os.Stat(huskBin); err != nil || st.Mode()&0o111 == 0 {
		fmt.Fprintf(os.Stderr, "integration: HUSK_BIN=%s is not an executable file (%v)\n", huskBin, err)
		return 1
	}
	fullDisk = os.Getenv("HUSK_TEST_FULLDISK")

	work, err := os.MkdirTemp("", "husk-harness-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(work)
	stop, err := setup(work)
	defer stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: setting up the harness:", err)
		return 1
	}
	fmt.Printf("harness: user %s (uid %d, subuid ranges: %v); plain registry %s; TLS registry %s\n",
		me.Name, me.UID, me.Subuid, plain.Addr, secure.Addr)
	return m.Run()
}

// setup starts both registries and pushes the test images. The returned
// function stops whatever was started, even after an error.
func setup(work string) (stop func(), err error) {
	var started []*Registry
	stop = func() {
		for _, r := range started {
			if err := r.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "integration: stopping registry:", err)
			}
		}
	}
	if me, err = currentUser(); err != nil {
		return stop, err
	}
	binDir = filepath.Join(work, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return stop, err
	}
	if err := os.Symlink(huskBin, filepath.Join(binDir, "husk")); err != nil {
		return stop, err
	}

	if plain, err = StartRegistry(filepath.Join(work, "plain"), RegistryOptions{}); err != nil {
		return stop, err
	}
	started = append(started, plain)
	ca, err := NewCA()
	if err != nil {
		return stop, err
	}
	secure, err = StartRegistry(filepath.Join(work, "tls"), RegistryOptions{CA: ca, User: "tester", Password: randomHex(8)})
	if err != nil {
		return stop, err
	}
	started = append(started, secure)

	if err := buildImages(); err != nil {
		return stop, err
	}
	for _, r := range []*Registry{plain, secure} {
		if err := pushAll(r); err != nil {
			return stop, err
		}
	}
	return stop, nil
}

func buildImages() (err error) {
	if images.Busybox, err = BusyboxImage(); err != nil {
		return err
	}
	if images.Layers, err = LayersImage(); err != nil {
		return err
	}
	if images.Multiarch, err = MultiarchIndex(); err != nil {
		return err
	}
	images.Escapes, err = EscapeImages()
	return err
}

func pushAll(r *Registry) error {
	for repo, img := range map[string]v1.Image{"busybox:latest": images.Busybox, "layers:latest": images.Layers} {
		if err := r.Push(repo, img); err != nil {
			return err
		}
	}
	if err := r.PushIndex("multiarch:latest", images.Multiarch); err != nil {
		return err
	}
	for name, img := range images.Escapes {
		if err := r.Push(name+":latest", img); err != nil {
			return err
		}
	}
	return nil
}

// currentUser tells husk-sub from husk-nosub by /etc/subuid, as husk does.
func currentUser() (testUser, error) {
	u := testUser{UID: os.Getuid()}
	if cu, err := user.LookupId(strconv.Itoa(u.UID)); err == nil {
		u.Name = cu.Username
	} else {
		u.Name = strconv.Itoa(u.UID)
	}
	f, err := os.Open("/etc/subuid")
	if err != nil {
		return u, nil // no file: no ranges
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(fields) != 3 || (fields[0] != u.Name && fields[0] != strconv.Itoa(u.UID)) {
			continue
		}
		if n, err := strconv.Atoi(fields[2]); err == nil && n > 0 {
			u.Subuid = true
		}
	}
	return u, sc.Err()
}

// skipOrFail skips a test that cannot run here; under CI=true a skip is a
// failure, since CI must run everything.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot run under CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
