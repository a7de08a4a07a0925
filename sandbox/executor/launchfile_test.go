package executor

import (
	"slices"
	"testing"

	"husk/userns"
)

// What the Go side writes, it reads back; the C side's reading is
// launch.c's, tested in ctest/launch_test.c.
func TestLaunchRoundTrip(t *testing.T) {
	l := &Launch{Key: []byte("k\x00"), Flags: 42, ID: "0123456789abcdef", Spec: []byte("v\x001\x00"),
		Mapping: &userns.Mapping{Mode: userns.ModeSingle, UIDMap: []userns.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}}, GIDMap: []userns.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}}},
		Entry:   []string{"/bin/sh", "-c"}, Default: []string{"echo", "a b", ""}, JSON: []byte(`{"x":"y\nz"}`), ImageID: "abc"}
	b := l.Encode()
	// prelaunch.c's parser turns each record's newline into a NUL.
	got := ParseLaunch(b)
	if got.ID != l.ID || string(got.JSON) != string(l.JSON) || got.ImageID != l.ImageID ||
		!slices.Equal(got.Entry, l.Entry) || !slices.Equal(got.Default, l.Default) {
		t.Errorf("round trip: got %+v, want %+v", got, l)
	}
	if bad := ParseLaunch(b[:len(b)/2]); bad.ImageID != "" {
		t.Errorf("a truncated launch gave an image %q", bad.ImageID)
	}
}
