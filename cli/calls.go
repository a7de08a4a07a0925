package cli

import (
	"context"
	"fmt"
	"io"

	"husk/reexec"
	"husk/store"
)

// callImageInspect is the function (reexec) that describes images as
// `husk image inspect` does, in husk's user namespace, for create and run
// (-P needs the image's EXPOSE ports) and for inspect of a name that is no
// container. Its arguments are the store driver, a Go template ("" for
// JSON) and the images.
const callImageInspect = "image-inspect"

func init() {
	reexec.Register(callImageInspect, func(_ context.Context, out, errw io.Writer, args []string) int {
		if len(args) < 3 {
			fmt.Fprintf(errw, "husk: %s takes the store driver, a format and images: this is husk's own error\n", callImageInspect)
			return ExitHusk
		}
		if err := inspectImages(args[0], args[1], args[2:], out); err != nil {
			fmt.Fprintln(errw, "husk: "+err.Error())
			return ExitHusk
		}
		return 0
	})
}

func inspectImages(driver, format string, refs []string, w io.Writer) error {
	s, err := store.Open(driver)
	if err != nil {
		return err
	}
	defer s.Close()
	var out []inspectImage
	for _, q := range refs {
		if sq, err := store.FindSquash(q); err != nil || sq != nil {
			var ii *inspectImage
			if err == nil {
				ii, err = describeSquash(sq)
			}
			if err != nil {
				return fmt.Errorf("image inspect %s: %w", q, err)
			}
			out = append(out, *ii)
			continue
		}
		img, err := s.Lookup(q)
		if err == nil {
			var ii *inspectImage
			if ii, err = describe(s, img); err == nil {
				out = append(out, *ii)
				continue
			}
		}
		return fmt.Errorf("image inspect %s: %w", q, err)
	}
	return printInspect(w, format, out)
}
