package start

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.podman.io/storage"

	"husk/reexec"
	"husk/sandbox"
	"husk/store"
)

// InitCall is the function (reexec) that is the Go side of a container's
// init: `husk container-init ID`. It reads everything else from the
// container's record and config, so that its argv (which every local user,
// and the container itself at /proc/1/cmdline, can read) holds nothing of
// the container's flags.
const InitCall = "container-init"

func init() { reexec.Register(InitCall, initMain) }

// InitCommand is what sandbox.Launch needs to start container id's init:
// its arguments and its environment.
func InitCommand(id string) (args, env []string) {
	return []string{InitCall, id}, []string{reexec.Env(InitCall)}
}

func initMain(_ context.Context, _, errw io.Writer, args []string) int {
	if len(args) != 1 || !sandbox.InSandbox() {
		fmt.Fprintf(errw, "husk: %s runs only as a container's init, which husk starts: this is husk's own error\n", InitCall)
		return 125
	}
	sandbox.CatchSignals()
	err := Init(args[0])
	if !errors.Is(err, ErrPull) {
		fmt.Fprintln(errw, "husk: "+err.Error())
		sandbox.Ask("error", err.Error())
	}
	return 125
}

// ErrPull is the init's answer when the image is missing: it asked the
// host side to pull it and launch again.
var ErrPull = errors.New("the image is missing: the host side pulls it")

// Init is the sandbox side of container id: PID 1 in the new namespaces,
// whose Go side finds the image in the store, builds the spec and hands
// it to the C executor. It returns only when it failed before it did.
func Init(id string) error {
	rec, err := OpenRecord(id)
	if err != nil {
		return err
	}
	cfg := rec.Config
	s, err := store.Open(rec.StorageDriver)
	if err != nil {
		return err
	}
	ref, stamp := cfg.Image, ""
	if cfg.ImageID != "" {
		ref = cfg.ImageID // the image it was created from, even if retagged
	} else {
		_, graphroot, _, _ := store.Paths()
		stamp = store.StoreStamp(graphroot)
	}
	img, err := holdImage(s, ref)
	if errors.Is(err, store.ErrNoSuchImage) {
		if _, perr := store.ParseReference(cfg.Image); perr != nil {
			return perr
		}
		sandbox.Ask("pull", cfg.Image)
		return ErrPull
	}
	if err != nil {
		return err
	}
	spec, err := initSpec(s, img, rec)
	if err == nil {
		recordPlan(s, img, stamp)
	}
	s.Close()
	if err != nil {
		return err
	}
	if err := rec.Remember(img.ID, spec); err != nil {
		return err
	}
	c, err := cSpec(spec, img.ID)
	if err != nil {
		return err
	}
	return sandbox.BecomeC(c)
}

// holdImage finds the image and marks it in use for the sandbox's life.
// It looks again once the mark is held: an rmi that won the race has
// removed the image by then, and the image counts as missing.
func holdImage(s *store.Store, ref string) (*storage.Image, error) {
	img, err := s.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if err := s.HoldImage(img.ID); err != nil {
		return nil, err
	}
	if _, err := s.Image(img.ID); err != nil {
		return nil, fmt.Errorf("%w: it was removed while the container started", store.ErrNoSuchImage)
	}
	return img, nil
}
