package integration

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// infoKeys are the paths of `husk info --format json` the tests read. They
// are kept here, in one place, to follow the info command's names.
var infoKeys = struct {
	Version, UID, UsernsMode, Graphroot, FsType, Strategy, NetBackends, Seccomp, CgroupVersion string
}{
	Version:       "version",
	UID:           "user.uid",
	UsernsMode:    "userns.mode",
	Graphroot:     "store.graphroot",
	FsType:        "store.fsType",
	Strategy:      "rootfs.strategy",
	NetBackends:   "network.backends",
	Seccomp:       "seccomp.enabled",
	CgroupVersion: "cgroup.version",
}

// The values of userns.mode and rootfs.strategy.
const (
	modeSubuid = "subuid"
	modeSingle = "single"
)

var strategies = []string{"overlay", "fuse-overlayfs", "vfs"}

// cgroup.version: this machine may boot with the hybrid hierarchy.
var cgroupVersions = []string{"1", "2", "v1", "v2", "hybrid"}

// infoJSON runs `husk info --format json`.
func infoJSON(t *testing.T, e *env) map[string]any {
	t.Helper()
	r := e.ok("info", "--format", "json")
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("info --format json: %v: %s", err, r)
	}
	return m
}

// lookup follows a dotted path through nested objects.
func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func infoString(t *testing.T, m map[string]any, path string) string {
	t.Helper()
	v, ok := lookup(m, path)
	if !ok {
		t.Errorf("info json: no %s", path)
		return ""
	}
	return fmt.Sprint(v)
}

func TestInfoText(t *testing.T) {
	e := newEnv(t)
	r := e.ok("info")
	if len(lines(r.stdout)) < 5 {
		t.Errorf("husk info: want a report: %s", r)
	}
}

func TestInfoJSON(t *testing.T) {
	e := newEnv(t)
	m := infoJSON(t, e)
	if v := infoString(t, m, infoKeys.Version); v == "" {
		t.Errorf("%s is empty", infoKeys.Version)
	}
	if v := infoString(t, m, infoKeys.UID); v != fmt.Sprint(me.UID) {
		t.Errorf("%s = %q, want %d", infoKeys.UID, v, me.UID)
	}
	wantMode := modeSingle
	if me.Subuid {
		wantMode = modeSubuid
	}
	if v := infoString(t, m, infoKeys.UsernsMode); v != wantMode {
		t.Errorf("%s = %q, want %q", infoKeys.UsernsMode, v, wantMode)
	}
	if v, want := infoString(t, m, infoKeys.Graphroot), filepath.Join(e.home, ".local/share/husk/storage"); v != want {
		t.Errorf("%s = %q, want %q", infoKeys.Graphroot, v, want)
	}
	if v := infoString(t, m, infoKeys.FsType); v == "" {
		t.Errorf("%s is empty", infoKeys.FsType)
	}
	if v := infoString(t, m, infoKeys.Strategy); !contains(strategies, v) {
		t.Errorf("%s = %q, want one of %q", infoKeys.Strategy, v, strategies)
	}
	if v, ok := lookup(m, infoKeys.NetBackends); !ok {
		t.Errorf("info json: no %s", infoKeys.NetBackends)
	} else if list, ok := v.([]any); !ok || len(list) == 0 {
		t.Errorf("%s = %v, want a non-empty list", infoKeys.NetBackends, v)
	}
	if v, ok := lookup(m, infoKeys.Seccomp); !ok {
		t.Errorf("info json: no %s", infoKeys.Seccomp)
	} else if _, ok := v.(bool); !ok {
		t.Errorf("%s = %v, want true or false", infoKeys.Seccomp, v)
	}
	if v := infoString(t, m, infoKeys.CgroupVersion); !contains(cgroupVersions, v) {
		t.Errorf("%s = %q, want one of %q", infoKeys.CgroupVersion, v, cgroupVersions)
	}
	if t.Failed() {
		data, _ := json.MarshalIndent(m, "", "  ")
		t.Logf("info json:\n%s", data)
	}
}

// The store follows $HUSK_ROOT, else $XDG_DATA_HOME/husk.
func TestInfoStoreLocation(t *testing.T) {
	e := newEnv(t)
	e.vars["XDG_DATA_HOME"] = filepath.Join(e.home, "data")
	if v, want := infoString(t, infoJSON(t, e), infoKeys.Graphroot), filepath.Join(e.home, "data/husk/storage"); v != want {
		t.Errorf("with XDG_DATA_HOME: %s = %q, want %q", infoKeys.Graphroot, v, want)
	}
	e.vars["HUSK_ROOT"] = filepath.Join(e.home, "root")
	if v, want := infoString(t, infoJSON(t, e), infoKeys.Graphroot), filepath.Join(e.home, "root/storage"); v != want {
		t.Errorf("with HUSK_ROOT: %s = %q, want %q", infoKeys.Graphroot, v, want)
	}
}
