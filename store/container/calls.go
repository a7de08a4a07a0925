package container

import (
	"context"
	"fmt"
	"io"

	"husk/reexec"
	"husk/userns"
)

// CallRemove is the function (reexec) that removes a container by ID in
// husk's user namespace, running or not: a --rm container's monitor, and
// a run whose process never started, ask for it; its anonymous volumes
// go too. Its arguments are the
// store driver ("" as recorded) and the ID.
const CallRemove = "remove-container"

func init() {
	reexec.Register(CallRemove, func(_ context.Context, _, errw io.Writer, args []string) int {
		if len(args) != 2 {
			fmt.Fprintf(errw, "husk: %s takes the store driver and an ID: this is husk's own error\n", CallRemove)
			return 125
		}
		cs, err := OpenDefault()
		if err == nil {
			var ct *Container
			if ct, err = cs.Find(args[1]); err == nil {
				err = cs.Remove(ct, true, args[0])
			}
			// A --rm container's, or one that never ran: its anonymous
			// volumes go with it.
			if err == nil {
				err = cs.RemoveVolumes(ct)
			}
		}
		if err != nil {
			fmt.Fprintf(errw, "husk: removing container %s: %v\n", args[1], err)
			return 125
		}
		return 0
	})
}

// CallRemoveVolumes is the function (reexec) that removes a container's
// anonymous volumes, in husk's user namespace, before a foreground --rm
// run forgets it. Its argument is the ID.
const CallRemoveVolumes = "remove-container-volumes"

func init() {
	reexec.Register(CallRemoveVolumes, func(_ context.Context, _, errw io.Writer, args []string) int {
		if len(args) != 1 {
			fmt.Fprintf(errw, "husk: %s takes an ID: this is husk's own error\n", CallRemoveVolumes)
			return 125
		}
		cs, err := OpenDefault()
		if err == nil {
			var ct *Container
			if ct, err = cs.Find(args[0]); err == nil {
				err = cs.RemoveVolumes(ct)
			}
		}
		if err != nil {
			fmt.Fprintf(errw, "husk: removing the volumes of container %s: %v\n", args[0], err)
			return 125
		}
		return 0
	})
}

// Discard removes a container that never ran (nothing half-made stays
// after bad input), with whatever its init made for it (an upper layer, a
// vfs copy), in husk's user namespace, whose ids own those files.
func Discard(ctx context.Context, driver, id string) {
	_, _ = userns.Call(ctx, io.Discard, CallRemove, driver, id)
}
