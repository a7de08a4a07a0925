package integration

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Each fault: exit 125, one line on stderr starting "husk: ", and no
// partial image afterwards (wantFault).

func TestFaultMalformedReference(t *testing.T) {
	for _, ref := range []string{
		plain.Addr + "/BusyBox:latest", // upper case in a repository
		plain.Addr + "/busybox:bad:tag",
		plain.Addr + "/busybox@sha256:1234",
		"::",
	} {
		t.Run(ref, func(t *testing.T) {
			e := newEnv(t)
			e.wantFault(e.run("pull", ref))
		})
	}
}

func TestFaultUnknownRepository(t *testing.T) {
	e := newEnv(t)
	e.wantFault(e.run("pull", plain.Ref("no/such-repo:latest")))
}

func TestFaultUnknownTag(t *testing.T) {
	e := newEnv(t)
	e.wantFault(e.run("pull", plain.Ref("busybox:no-such-tag")))
}

func TestFaultUnknownPlatform(t *testing.T) {
	e := newEnv(t)
	e.wantFault(e.run("pull", "--platform", "linux/s390x", plain.Ref("multiarch:latest")))
}

func TestFaultRegistryDown(t *testing.T) {
	port, err := FreePort() // nothing listens there now
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.wantFault(e.run("pull", fmt.Sprintf("127.0.0.1:%d/busybox:latest", port)))
}

func TestFaultWrongPassword(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	e.writeFile(".config/husk/auth.json", dockerAuth(secure.Addr, secure.User, "wrong-"+secure.Password), 0o600)
	e.wantFault(e.run("pull", secure.Ref("busybox:latest")))
}

func TestFaultNoCredentials(t *testing.T) {
	e := newEnv(t)
	e.trustCA()
	e.wantFault(e.run("pull", secure.Ref("busybox:latest")))
}

// TLS with a CA husk does not know: the line names the certs.d fix and
// --tls-verify=false.
func TestFaultTLSUnknownCA(t *testing.T) {
	e := newEnv(t)
	e.writeFile(".config/husk/auth.json", dockerAuth(secure.Addr, secure.User, secure.Password), 0o600)
	e.wantFault(e.run("pull", secure.Ref("busybox:latest")), "certs.d", "--tls-verify=false")
}

// A blob whose bytes no longer match its digest.
func TestFaultCorruptedBlob(t *testing.T) {
	img, err := UniqueImage(t.Name() + me.Name)
	if err != nil {
		t.Fatal(err)
	}
	repo := "corrupt-" + randomHex(4) + ":latest"
	if err := plain.Push(repo, img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	if err := plain.CorruptBlob(d.Hex); err != nil {
		t.Fatalf("corrupting blob %s: %v", d, err)
	}
	e := newEnv(t)
	r := e.run("pull", plain.Ref(repo))
	e.wantFault(r)
	if !strings.Contains(strings.ToLower(r.stderr), "digest") {
		t.Logf("note: the error does not say \"digest\": %s", r.stderr)
	}
}

// Layers whose entries reach outside the root: refused, and nothing written
// outside.
func TestFaultEscapingLayer(t *testing.T) {
	for name := range images.Escapes {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.wantFault(e.run("pull", plain.Ref(name+":latest")))
			noEscapedFiles(t, e.home)
		})
	}
}

// noEscapedFiles looks for a file the escape layers name anywhere under dir
// (the store is there, so an escape lands there) and in the temp directory.
func noEscapedFiles(t *testing.T, dir string) {
	t.Helper()
	for _, root := range []string{dir, os.TempDir()} {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable parts (other owners) are skipped
			}
			if strings.HasPrefix(d.Name(), "husk-escape-") {
				t.Errorf("a layer escaped its root: %s exists", path)
			}
			return nil
		})
	}
}

// A full disk: HUSK_ROOT on the small tmpfs from prepare.sh. The line names
// the store path.
func TestFaultDiskFull(t *testing.T) {
	if fullDisk == "" {
		skipOrFail(t, "HUSK_TEST_FULLDISK is not set: run through make test as root (prepare.sh mounts a small tmpfs)")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(fullDisk, &st); err != nil {
		skipOrFail(t, "HUSK_TEST_FULLDISK=%s: %v", fullDisk, err)
	}
	if free := int64(st.Bavail) * st.Bsize; free >= BigFileSize {
		skipOrFail(t, "HUSK_TEST_FULLDISK=%s has %d bytes free: too many for the 100 MB layer to fail", fullDisk, free)
	}
	root, err := os.MkdirTemp(fullDisk, "store-"+me.Name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	// Zeros would be stored as holes (sparse.go): the file is of ones.
	big, err := TarLayer([]Entry{Generated("ones", BigFileSize, func(w io.Writer) error {
		buf := bytes.Repeat([]byte{1}, 1<<20)
		for left := int64(BigFileSize); left > 0; left -= int64(len(buf)) {
			if _, err := w.Write(buf[:min(left, int64(len(buf)))]); err != nil {
				return err
			}
		}
		return nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	img, err := NewImage("amd64", v1.Config{Cmd: []string{"true"}}, big)
	if err != nil {
		t.Fatal(err)
	}
	repo := "ones-" + randomHex(4) + ":latest"
	if err := plain.Push(repo, img); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t) // its reset runs before root is removed
	e.vars["HUSK_ROOT"] = root
	e.wantFault(e.run("pull", plain.Ref(repo)), root)
	// The store still works once there is room again.
	e.pull(plain.Ref("busybox:latest"))
	wantOnlyImage(t, e, images.Busybox)
}
