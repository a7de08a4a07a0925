package cli

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"husk/cdi"
	"husk/fuse"
	"husk/network"
	"husk/sandbox"
	"husk/sandbox/executor"
	"husk/seccomp"
	"husk/squash"
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
//	  store.networkFS (bool), store.squashfsCopies.{dir, enabled
//	  (bool), off (why runs make none), count (complete copies)}
//	rootfs.strategy ("overlay", "fuse-overlayfs", "vfs"; "" when no
//	  namespace could be made), rootfs.source ("forced", "recorded",
//	  "probed"), rootfs.probes.<strategy>.{ok, error}
//	network.backends (names that can work), network.checks.<name>.{ok, error}
//	seccomp.enabled, seccomp.mode, seccomp.libseccomp, seccomp.fakeIDs
//	  (true with the single mapping: run and build fake id changes and
//	  chowns unless --security-opt fake-ids=false)
//	cgroup.version ("v1", "v2", "hybrid"), cgroup.path, cgroup.delegated,
//	  cgroup.controllers
//	cdi.dirs (searched in this order, later ones winning), cdi.devices
//	  (VENDOR/CLASS=NAME, as --device takes them)
//	shell.hostSockets (how husk shell hides the host's unix sockets, or
//	  "reachable"), shell.isolates, shell.reaches (sentences)
//	problems: [{area, message, fix}], [] when nothing is missing
type InfoCmd struct {
	Format string `help:"Output format: json, or a Go template over the report." placeholder:"FORMAT"`
	Probe  string `name:"internal-probe" hidden:"" help:"Internal: probe root-filesystem strategies under DIR (inside the namespace)."`
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
	r.CDI = infoCDI{Dirs: cdi.Dirs(), Devices: cdi.Devices(cdi.Dirs())}
	if r.CDI.Devices == nil {
		r.CDI.Devices = []string{}
	}
	r.gatherShell()
	switch c.Format {
	case "":
		r.printText(g.Stdout)
		return nil
	case "json":
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return printTemplate(g.Stdout, c.Format, []*infoReport{r})
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
	mapping, err := userns.Detect()
	r.problem("userns", err)
	for _, e := range userns.Preflight() {
		r.problem("userns", e)
	}
	if mapping == nil {
		return
	}
	r.User = infoUser{mapping.User, mapping.UID, mapping.GID}
	r.Userns = infoUserns{Mode: mapping.Mode, Source: mapping.Source, UIDMap: infoMaps(mapping.UIDMap),
		GIDMap: infoMaps(mapping.GIDMap), NewUIDMap: mapping.NewUIDMap, NewGIDMap: mapping.NewGIDMap}
	if os.Geteuid() == 0 && !userns.Inside() {
		// Real root does not re-execute: no mapping, nothing missing.
		r.Userns = infoUserns{Mode: "root", UIDMap: []infoMap{}, GIDMap: []infoMap{}}
		return
	}
	for _, e := range mapping.Problems {
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
	if p, err := store.Place(); err == nil {
		r.Store.Placement, r.Store.PlacementReason = p.How, p.Reason
	}
	fs, err := fuse.StoreFS(root)
	r.Store.FSType, r.Store.NetworkFS = fs.Type, fs.Network
	r.problem("store", err)
	r.Store.SquashfsCopies, err = squash.CopiesReport()
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
	r.Seccomp = infoSeccomp{Enabled: s.Enabled, Mode: s.Mode, Libseccomp: s.Library,
		FakeIDs: s.Enabled && r.Userns.Mode == userns.ModeSingle}
	r.problem("seccomp", s.Err)
	if executor.LandlockABI() < 1 {
		r.problem("landlock", errors.New("this kernel has no Landlock (Linux 5.13 or later, with landlock in its lsm= list): a container's process that holds CAP_SYS_PTRACE can trace the container's PID 1"))
	}
}

func (r *infoReport) gatherCgroup() {
	c := sandbox.CheckCgroup()
	r.Cgroup = infoCgroup{Version: c.Version, Path: c.Path, Delegated: c.Delegated, Controllers: c.Controllers}
	if r.Cgroup.Controllers == nil {
		r.Cgroup.Controllers = []string{}
	}
	r.problem("cgroup", c.Err)
}

func (r *infoReport) gatherShell() {
	how, err := sandbox.ShellSockets()
	if err != nil {
		how = "reachable"
		r.problem("shell", err)
	}
	r.Shell = infoShell{HostSockets: how, Isolates: sandbox.ShellIsolates, Reaches: sandbox.ShellReaches}
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
