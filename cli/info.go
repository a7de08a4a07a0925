package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/template"

	"golang.org/x/sys/unix"

	"husk/fuse"
	"husk/network"
	"husk/sandbox"
	"husk/seccomp"
	"husk/store"
	"husk/userns"
)

// InfoCmd is `husk info`: what husk will use on this machine, and for each
// missing prerequisite the one line that fixes it. It runs on the host; the
// root-filesystem probes run in a husk re-executed into the namespace
// (`husk info --internal-probe DIR`), which removes what it mounts.
//
// JSON keys (stable: tests and scripts read them):
//
//	version, commit, kernel, arch
//	user.name, user.uid, user.gid
//	userns.mode ("subuid" or "single"; "root" for real root, which
//	  uses no namespace), userns.source ("/etc/subuid",
//	  "getsubids" or ""), userns.uidMap, userns.gidMap ([{containerID,
//	  hostID, size}]), userns.newuidmap, userns.newgidmap
//	store.root, store.graphroot, store.runroot, store.fsType,
//	  store.networkFS (bool)
//	rootfs.strategy ("overlay", "fuse-overlayfs", "vfs"; "" when no
//	  namespace could be made), rootfs.source ("forced", "recorded",
//	  "probed"), rootfs.probes.<strategy>.{ok, error}
//	network.backends (names that can work), network.checks.<name>.{ok, error}
//	seccomp.enabled, seccomp.mode, seccomp.libseccomp
//	cgroup.version ("v1", "v2", "hybrid"), cgroup.path, cgroup.delegated,
//	  cgroup.controllers
//	problems: [{area, message, fix}], [] when nothing is missing
type InfoCmd struct {
	Format string `help:"Output format: json, or a Go template over the report." placeholder:"FORMAT"`
	Probe  string `name:"internal-probe" hidden:"" help:"Internal: probe root-filesystem strategies under DIR (inside the namespace)."`
}

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
	FSType    string `json:"fsType"`
	NetworkFS bool   `json:"networkFS"`
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
}

type infoCgroup struct {
	Version     string   `json:"version"`
	Path        string   `json:"path"`
	Delegated   bool     `json:"delegated"`
	Controllers []string `json:"controllers"`
}

type infoProblem struct {
	Area    string `json:"area"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

func (c *InfoCmd) Run(g *Globals) error {
	if c.Probe != "" {
		return printProbes(g.Stdout, c.Probe)
	}
	r := &infoReport{Version: g.Build.Version, Commit: g.Build.Commit, Kernel: kernelRelease(),
		Arch: runtime.GOARCH, Problems: []infoProblem{}}
	r.gatherUser()
	r.gatherStore()
	r.gatherRootfs(g)
	r.gatherNetwork()
	r.gatherSeccomp()
	r.gatherCgroup()
	switch c.Format {
	case "":
		r.printText(g.Stdout)
		return nil
	case "json":
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	tmpl, err := template.New("format").Parse(c.Format)
	if err != nil {
		return fmt.Errorf("parsing --format %q: %w: use json or a Go template such as '{{.Store.GraphRoot}}'", c.Format, err)
	}
	if err := tmpl.Execute(g.Stdout, r); err != nil {
		return fmt.Errorf("formatting with --format %q: %w", c.Format, err)
	}
	fmt.Fprintln(g.Stdout)
	return nil
}

// problem records err (nil: nothing) under area, with its fix when known.
func (r *infoReport) problem(area string, err error) {
	if err == nil {
		return
	}
	for _, p := range r.Problems {
		if p.Message == err.Error() {
			return // /dev/net/tun, for one, stops all three network backends
		}
	}
	r.Problems = append(r.Problems, infoProblem{area, err.Error(), userns.FixOf(err)})
}

func (r *infoReport) gatherUser() {
	plan, err := userns.Detect()
	r.problem("userns", err)
	for _, e := range userns.Preflight() {
		r.problem("userns", e)
	}
	if plan == nil {
		return
	}
	r.User = infoUser{plan.User, plan.UID, plan.GID}
	r.Userns = infoUserns{Mode: plan.Mode, Source: plan.Source, UIDMap: infoMaps(plan.UIDMap),
		GIDMap: infoMaps(plan.GIDMap), NewUIDMap: plan.NewUIDMap, NewGIDMap: plan.NewGIDMap}
	if os.Geteuid() == 0 && !userns.Inside() {
		// Real root does not re-execute: no mapping, nothing missing.
		r.Userns = infoUserns{Mode: "root", UIDMap: []infoMap{}, GIDMap: []infoMap{}}
		return
	}
	for _, e := range plan.Problems {
		r.problem("userns", e)
	}
}

func infoMaps(m []userns.IDMap) []infoMap {
	out := []infoMap{}
	for _, l := range m {
		out = append(out, infoMap{l.ContainerID, l.HostID, l.Size})
	}
	return out
}

func (r *infoReport) gatherStore() {
	root, graphroot, runroot, err := store.Paths()
	r.problem("store", err)
	r.Store = infoStore{Root: root, GraphRoot: graphroot, RunRoot: runroot}
	if root == "" {
		return
	}
	fs, err := fuse.StoreFS(root)
	r.Store.FSType, r.Store.NetworkFS = fs.Type, fs.Network
	r.problem("store", err)
}

// gatherRootfs reports the strategy commands will use (forced, else
// recorded, else the best probe) and every probe's result.
func (r *infoReport) gatherRootfs(g *Globals) {
	r.Rootfs.Probes = map[string]infoCheck{}
	if r.Store.Root == "" {
		return
	}
	out, err := userns.Output(g.Ctx, "info", "--internal-probe", r.Store.Root)
	if err == nil {
		err = json.Unmarshal(out, &r.Rootfs.Probes)
	}
	r.problem("rootfs", err)
	var best fuse.Strategy
	for _, s := range fuse.Strategies {
		p, ok := r.Rootfs.Probes[string(s)]
		if ok && p.OK && best == "" {
			best = s
		}
		if ok && !p.OK && s != fuse.VFS {
			r.Problems = append(r.Problems, infoProblem{"rootfs", p.Error, probeFix(p.Error)})
		}
	}
	r.Rootfs.Strategy, r.Rootfs.Source = string(best), "probed"
	if rec, err := fuse.Recorded(r.Store.GraphRoot); err != nil {
		r.problem("rootfs", err)
	} else if rec != "" {
		r.Rootfs.Strategy, r.Rootfs.Source = string(rec), "recorded"
	}
	if g.StorageDriver != "" {
		s, err := fuse.Parse(g.StorageDriver)
		r.problem("rootfs", err)
		r.Rootfs.Strategy, r.Rootfs.Source = string(s), "forced"
	}
}

// probeFix is the fix part of a probe's one-line error (after the last
// ": "), for the problems list.
func probeFix(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return ""
}

// printProbes is the namespace side of gatherRootfs.
func printProbes(w io.Writer, dir string) error {
	res := map[string]infoCheck{}
	for _, p := range fuse.ProbeAll(dir) {
		c := infoCheck{OK: p.Err == nil}
		if p.Err != nil {
			c.Error = p.Err.Error()
		}
		res[string(p.Strategy)] = c
	}
	return json.NewEncoder(w).Encode(res)
}

func (r *infoReport) gatherNetwork() {
	r.Network = infoNetwork{Backends: []string{}, Checks: map[string]infoCheck{}}
	for _, b := range network.Backends() {
		c := infoCheck{OK: b.Err == nil}
		if b.Err != nil {
			c.Error = b.Err.Error()
			r.problem("network", b.Err)
		} else {
			r.Network.Backends = append(r.Network.Backends, b.Name)
		}
		r.Network.Checks[b.Name] = c
	}
}

func (r *infoReport) gatherSeccomp() {
	s := seccomp.CheckSupport()
	r.Seccomp = infoSeccomp{Enabled: s.Enabled, Mode: s.Mode, Libseccomp: s.Library}
	r.problem("seccomp", s.Err)
}

func (r *infoReport) gatherCgroup() {
	c := sandbox.CheckCgroup()
	r.Cgroup = infoCgroup{Version: c.Version, Path: c.Path, Delegated: c.Delegated, Controllers: c.Controllers}
	if r.Cgroup.Controllers == nil {
		r.Cgroup.Controllers = []string{}
	}
	r.problem("cgroup", c.Err)
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
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
	fmt.Fprintf(w, "rootfs:\n  strategy: %s (%s)\n", r.Rootfs.Strategy, r.Rootfs.Source)
	for _, s := range fuse.Strategies {
		if p, ok := r.Rootfs.Probes[string(s)]; ok {
			fmt.Fprintf(w, "  %s: %s\n", s, check(p))
		}
	}
	fmt.Fprintf(w, "network:\n  backends: %s\n", strings.Join(r.Network.Backends, ", "))
	fmt.Fprintf(w, "seccomp:\n  enabled: %t\n  mode: %d\n  libseccomp: %s\n", r.Seccomp.Enabled, r.Seccomp.Mode, r.Seccomp.Libseccomp)
	fmt.Fprintf(w, "cgroup:\n  version: %s\n  delegated: %t\n", r.Cgroup.Version, r.Cgroup.Delegated)
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "problems: none")
		return
	}
	fmt.Fprintln(w, "problems (each with its fix):")
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s: %s\n", p.Area, p.Message)
	}
}
