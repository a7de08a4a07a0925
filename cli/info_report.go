package cli

import (
	"fmt"
	"io"
	"strings"

	"husk/fuse"
	"husk/squash"
	"husk/userns"
)

// infoReport is what `husk info` prints, as JSON or as text (printText).
type infoReport struct {
	Version  string        `json:"version"`
	Commit   string        `json:"commit"`
	Kernel   string        `json:"kernel"`
	Arch     string        `json:"arch"`
	User     infoUser      `json:"user"`
	Userns   infoUserns    `json:"userns"`
	Store    infoStore     `json:"store"`
	Rootfs   infoRootfs    `json:"rootfs"`
	Network  infoNetwork   `json:"network"`
	Seccomp  infoSeccomp   `json:"seccomp"`
	Cgroup   infoCgroup    `json:"cgroup"`
	CDI      infoCDI       `json:"cdi"`
	Shell    infoShell     `json:"shell"`
	Problems []infoProblem `json:"problems"`
}

type infoUser struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

type infoMap struct {
	ContainerID int `json:"containerID"`
	HostID      int `json:"hostID"`
	Size        int `json:"size"`
}

type infoUserns struct {
	Mode      string    `json:"mode"`
	Source    string    `json:"source"`
	UIDMap    []infoMap `json:"uidMap"`
	GIDMap    []infoMap `json:"gidMap"`
	NewUIDMap string    `json:"newuidmap"`
	NewGIDMap string    `json:"newgidmap"`
}

type infoStore struct {
	Root      string `json:"root"`
	GraphRoot string `json:"graphroot"`
	RunRoot   string `json:"runroot"`
	// Placement is store.Placement's How; PlacementReason why node-local.
	Placement       string `json:"placement"`
	PlacementReason string `json:"placementReason,omitempty"`
	FSType          string `json:"fsType"`
	NetworkFS       bool   `json:"networkFS"`
	// SquashfsCopies is where squashfs files' node copies go, and how many.
	SquashfsCopies squash.Copies `json:"squashfsCopies"`
}

type infoCheck struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type infoRootfs struct {
	Strategy string               `json:"strategy"`
	Source   string               `json:"source"`
	Probes   map[string]infoCheck `json:"probes"`
}

type infoNetwork struct {
	Backends []string             `json:"backends"`
	Checks   map[string]infoCheck `json:"checks"`
}

type infoSeccomp struct {
	Enabled    bool   `json:"enabled"`
	Mode       int    `json:"mode"`
	Libseccomp string `json:"libseccomp"`
	FakeIDs    bool   `json:"fakeIDs"`
}

type infoCgroup struct {
	Version     string   `json:"version"`
	Path        string   `json:"path"`
	Delegated   bool     `json:"delegated"`
	Controllers []string `json:"controllers"`
}

// infoCDI is where --device VENDOR/CLASS=NAME and --gpus look, and what
// they find there.
type infoCDI struct {
	Dirs    []string `json:"dirs"`
	Devices []string `json:"devices"`
}

// infoShell is what `husk shell` isolates and how it hides host sockets.
type infoShell struct {
	HostSockets string   `json:"hostSockets"`
	Isolates    []string `json:"isolates"`
	Reaches     []string `json:"reaches"`
}

type infoProblem struct {
	Area    string `json:"area"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// printText is the `podman info`-like listing.
func (r *infoReport) printText(w io.Writer) {
	maps := func(m []infoMap) string {
		var s []string
		for _, l := range m {
			s = append(s, fmt.Sprintf("%d %d %d", l.ContainerID, l.HostID, l.Size))
		}
		return strings.Join(s, ", ")
	}
	check := func(c infoCheck) string {
		if c.OK {
			return "ok"
		}
		return "no"
	}
	fmt.Fprintf(w, "husk:\n  version: %s\n  commit: %s\n", r.Version, r.Commit)
	fmt.Fprintf(w, "host:\n  kernel: %s\n  arch: %s\n", r.Kernel, r.Arch)
	fmt.Fprintf(w, "user:\n  name: %s\n  uid: %d\n  gid: %d\n", r.User.Name, r.User.UID, r.User.GID)
	fmt.Fprintf(w, "userns:\n  mode: %s\n  uidMap: %s\n  gidMap: %s\n", r.Userns.Mode, maps(r.Userns.UIDMap), maps(r.Userns.GIDMap))
	if r.Userns.Mode == userns.ModeSubuid {
		fmt.Fprintf(w, "  ranges from: %s\n  newuidmap: %s\n  newgidmap: %s\n", r.Userns.Source, r.Userns.NewUIDMap, r.Userns.NewGIDMap)
	}
	fmt.Fprintf(w, "store:\n  root: %s\n  graphroot: %s\n  runroot: %s\n  fsType: %s\n", r.Store.Root, r.Store.GraphRoot, r.Store.RunRoot, r.Store.FSType)
	fmt.Fprintf(w, "  placement: %s\n", r.Store.Placement)
	if r.Store.PlacementReason != "" {
		fmt.Fprintf(w, "  placement reason: %s\n", r.Store.PlacementReason)
	}
	if c := r.Store.SquashfsCopies; c.Enabled {
		fmt.Fprintf(w, "  squashfs node copies: %d in %s\n", c.Count, c.Dir)
	} else if c.Dir != "" {
		fmt.Fprintf(w, "  squashfs node copies: off (%s); %d in %s\n", c.Off, c.Count, c.Dir)
	}
	fmt.Fprintf(w, "rootfs:\n  strategy: %s (%s)\n", r.Rootfs.Strategy, r.Rootfs.Source)
	for _, s := range fuse.Strategies {
		if p, ok := r.Rootfs.Probes[string(s)]; ok {
			fmt.Fprintf(w, "  %s: %s\n", s, check(p))
		}
	}
	fmt.Fprintf(w, "network:\n  backends: %s\n", strings.Join(r.Network.Backends, ", "))
	fmt.Fprintf(w, "seccomp:\n  enabled: %t\n  mode: %d\n  libseccomp: %s\n", r.Seccomp.Enabled, r.Seccomp.Mode, r.Seccomp.Libseccomp)
	if r.Seccomp.FakeIDs {
		fmt.Fprintln(w, "  fakeIDs: true (no subuid ranges: id changes and chowns succeed without effect; --security-opt fake-ids=false turns it off)")
	}
	fmt.Fprintf(w, "cgroup:\n  version: %s\n  delegated: %t\n", r.Cgroup.Version, r.Cgroup.Delegated)
	fmt.Fprintf(w, "cdi:\n  dirs: %s\n  devices: %s\n", strings.Join(r.CDI.Dirs, ", "), strings.Join(r.CDI.Devices, ", "))
	fmt.Fprintf(w, "shell:\n  hostSockets: %s\n  isolates:\n", r.Shell.HostSockets)
	for _, l := range r.Shell.Isolates {
		fmt.Fprintf(w, "    - %s\n", l)
	}
	fmt.Fprintln(w, "  reaches:")
	for _, l := range r.Shell.Reaches {
		fmt.Fprintf(w, "    - %s\n", l)
	}
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "problems: none")
		return
	}
	fmt.Fprintln(w, "problems (each with its fix):")
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s: %s\n", p.Area, p.Message)
	}
}
