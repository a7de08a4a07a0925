package store

import (
	"context"
	"fmt"
	"io"

	"husk/reexec"
)

// CallRemoveCopy is the function (reexec) that removes the writable copy
// a vfs sandbox ran on, in husk's user namespace: the sandbox cannot reach
// the store after its pivot, so its host side asks once it has ended. Its
// arguments are the store driver and the copy's ID.
const CallRemoveCopy = "remove-copy"

func init() {
	reexec.Register(CallRemoveCopy, func(_ context.Context, _, errw io.Writer, args []string) int {
		if len(args) != 2 {
			fmt.Fprintf(errw, "husk: %s takes the store driver and an ID: this is husk's own error\n", CallRemoveCopy)
			return 125
		}
		s, err := Open(args[0])
		if err == nil {
			err = s.RemoveCopy(args[1])
			s.Close()
		}
		if err != nil {
			fmt.Fprintf(errw, "husk: removing the vfs copy %s: %v\n", args[1], err)
			return 125
		}
		return 0
	})
}
