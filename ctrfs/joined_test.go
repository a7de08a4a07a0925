package ctrfs

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"go.podman.io/storage/pkg/archive"

	"husk/userns"
)

func TestToContainerIDs(t *testing.T) {
	m := &userns.Mapping{
		UIDMap: []userns.IDMap{{ContainerID: 0, HostID: 1001, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}},
		GIDMap: []userns.IDMap{{ContainerID: 0, HostID: 1001, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}},
	}
	cases := []struct{ host, want int }{{1001, 0}, {100000, 1}, {100999, 1000}, {0, 65534}, {1002, 65534}}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, c := range cases {
		if err := tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Size: 1, Uid: c.host, Gid: c.host, Uname: "u"}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte("x"))
	}
	tw.Close()
	r := ToContainerIDs(&b, m)
	defer r.Close()
	tr := tar.NewReader(r)
	for _, c := range cases {
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != c.want || h.Gid != c.want || h.Uname != "" {
			t.Errorf("host id %d: want %d, got %d:%d %q", c.host, c.want, h.Uid, h.Gid, h.Uname)
		}
		if data, _ := io.ReadAll(tr); string(data) != "x" {
			t.Errorf("host id %d: the content changed: %q", c.host, data)
		}
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("want the end of the tar, got %v", err)
	}
}

// The function's argv, which the container's processes can read, holds
// the source's last element, never its host path.
func TestSrcArg(t *testing.T) {
	for in, want := range map[string]string{
		"/home/u/secret/dir":   "/src/dir",
		"/home/u/secret/dir/.": "/src/.",
		"rel/file":             "/src/file",
		"":                     "",
	} {
		if got := srcArg(archive.CopyInfo{Path: in}); got != want {
			t.Errorf("srcArg(%q) = %q, want %q", in, got, want)
		}
	}
}
