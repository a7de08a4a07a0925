package ctrfs

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"go.podman.io/storage/pkg/archive"

	"husk/pdeath"
	"husk/reexec"
	"husk/sandbox"
)

// A copy out of a running container is read from inside it too, for the
// same reasons as a copy in (joined.go): its volumes and binds are in its
// mount namespace only, and a path resolves in its own root. The function
// inside writes one JSON line (what the source is) and then its tar.

const tarFunc = "cp-tar"

func init() { reexec.Register(tarFunc, tarHere) }

// CopyOut copies src of the container (with -L, follow) to the host path
// dst, or as a tar to w when dst is "-".
func (j Joined) CopyOut(src string, follow bool, dst string, w io.Writer) error {
	defer pdeath.Hold()() // the child's parent-death signal follows this thread
	bin, err := sandbox.SealedSelf()
	if err != nil {
		return err
	}
	defer bin.Close()
	f := "-"
	if follow {
		f = "L"
	}
	cmd, errb, err := j.command(bin, tarFunc, "cp-from", src, f)
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	copyErr := copyOut(bufio.NewReader(out), dst, w)
	io.Copy(io.Discard, out) // whatever a failed copy left, so the process can end
	if err := joinedError(cmd.Wait(), errb); err != nil {
		return err
	}
	return copyErr
}

func copyOut(r *bufio.Reader, dst string, w io.Writer) error {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil // the process failed first, and says why
	}
	var info archive.CopyInfo
	if err := json.Unmarshal(line, &info); err != nil {
		return fmt.Errorf("reading the container's copy: %w", err)
	}
	if dst == "-" {
		_, err = io.Copy(w, r)
		return err
	}
	return CopyToHost(r, info, dst)
}

// tarHere is cp-tar, inside the container: SRC FOLLOW.
func tarHere(_ context.Context, out, errw io.Writer, args []string) int {
	if len(args) != 2 {
		fmt.Fprintf(errw, "husk: %s: want SRC FOLLOW, got %q: this is husk's own error\n", tarFunc, args)
		return 125
	}
	if err := tarArgs(out, args[0], args[1] == "L"); err != nil {
		fmt.Fprintf(errw, "husk: %v\n", err)
		return 125
	}
	return 0
}

func tarArgs(out io.Writer, src string, follow bool) error {
	info, err := SourceIn("/", src, follow)
	if err != nil {
		return err
	}
	content, err := Tar(info)
	if err != nil {
		return err
	}
	defer content.Close()
	line, _ := json.Marshal(info)
	w := bufio.NewWriter(out)
	w.Write(append(line, '\n'))
	if _, err := io.Copy(w, content); err != nil {
		return err
	}
	return w.Flush()
}
