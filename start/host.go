package start

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.podman.io/storage"

	"husk/fuse"
	"husk/sandbox"
	"husk/store"
	"husk/userns"
)

// The fast start: a `husk run` whose image has a run plan (store.RunPlan,
// recorded by the init of an earlier run of the same reference) builds the
// whole spec here on the host and hands it to the C init; there is then
// no Go runtime and no store inside the sandbox. Without a plan the Go
// init finds the image in the store as before, and records the plan.

// EnvPlanKey tells the Go init under which key to record the run plan.
const EnvPlanKey = "HUSK_PLAN_KEY"

// PlanKey is where the run plan of image is kept, for store driver driver
// and the mapping plan.
func PlanKey(driver, image string, plan *userns.Plan) string {
	return store.PlanKey(image, driver, fmt.Sprint(plan.Mode, plan.UIDMap, plan.GIDMap))
}

// HostLaunch is what HostSpec built: the C init's encoded spec, the spec
// in JSON as the container records it, and where its root comes from.
type HostLaunch struct {
	CSpec, JSON []byte
	// Bare is CSpec without the process's arguments, which are Entry and
	// the command given, or Default.
	Bare           []byte
	Entry, Default []string
	ImageID        string
	Strategy       fuse.Strategy
}

// HostSpec is the C init's spec for this run, or nil when the run takes
// the Go init (no plan, a vfs store, real root, an old kernel).
func HostSpec(driver string, plan *userns.Plan, rec *Record) (*HostLaunch, error) {
	if plan == nil {
		return nil, nil
	}
	cfg := rec.Config
	p := store.ReadPlan(PlanKey(driver, cfg.Image, plan))
	if p == nil {
		return nil, nil
	}
	runroot, scratch, err := ScratchDir()
	if err != nil {
		return nil, err
	}
	rw := scratch
	if !cfg.AutoRemove {
		if rw, err = rec.UpperBase(); err != nil {
			return nil, err
		}
	}
	var rootOps []sandbox.Op
	switch p.Strategy {
	case fuse.Overlay:
		rootOps = sandbox.OverlayRoot(p.Lower, rw)
	case fuse.FuseOverlayfs:
		prog, err := fuse.FuseOverlayfsPath()
		if err != nil {
			return nil, err
		}
		rootOps = sandbox.FuseOverlayRoot(prog, p.Lower, rw)
	default:
		return nil, nil
	}
	opts, err := cfg.RunOptions(rec.ID, filepath.Join(runroot, "seccomp"), plan.Mode == userns.ModeSingle)
	if err != nil {
		return nil, err
	}
	opts.Scratch, opts.RootOps = scratch, rootOps
	spec, err := sandbox.ContainerSpec(p.Config, opts)
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if err := rec.RememberJSON(p.ImageID, spec.Args, js); err != nil {
		return nil, err
	}
	cs, err := cSpec(spec, p.ImageID)
	if err != nil {
		return nil, err
	}
	enc, err := cs.Encode()
	if err != nil {
		return nil, err
	}
	hl := &HostLaunch{CSpec: enc, JSON: js, ImageID: p.ImageID, Strategy: p.Strategy}
	hl.Entry, hl.Default = sandbox.CommandParts(p.Config, opts)
	bare := *spec
	bare.Args = nil
	cs.Spec = &bare
	if hl.Bare, err = cs.Encode(); err != nil {
		return nil, err
	}
	return hl, nil
}

// cSpec is spec for the C init, which holds image imageID in use itself
// and checks that its top layer is still there once it does.
func cSpec(spec *sandbox.Spec, imageID string) (*sandbox.CSpec, error) {
	inuse, err := store.InUsePath(imageID)
	if err != nil {
		return nil, err
	}
	top := ""
	if len(spec.RootOps) > 0 {
		if _, rest, ok := strings.Cut(spec.RootOps[0].Data, "lowerdir="); ok {
			top, _, _ = strings.Cut(rest, ":")
			top, _, _ = strings.Cut(top, ",")
		}
	}
	return &sandbox.CSpec{Spec: spec, InUse: inuse, ImageDir: top}, nil
}

// recordPlan is the Go init's half: what it found in the store, for the
// next run of the same reference. stamp was taken before the store was
// read, so a change made meanwhile leaves the plan stale, never wrong.
func recordPlan(s *store.Store, img *storage.Image, stamp string) {
	key := os.Getenv(EnvPlanKey)
	if key == "" || stamp == "" || (s.Strategy != fuse.Overlay && s.Strategy != fuse.FuseOverlayfs) {
		return
	}
	cfg, err := imageConfig(s, img)
	if err != nil {
		return
	}
	lower, err := s.LowerDirs(img)
	if err != nil || len(lower) == 0 {
		return
	}
	store.WritePlan(key, &store.RunPlan{ImageID: img.ID, Strategy: s.Strategy, Lower: lower, Config: cfg.Config, Stamp: stamp})
}
