package executor

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"husk/sandbox/abi"
	"husk/userns"
)

// Launch is a prelaunch's written-down launch: the file prelaunch.c reads
// (launch.c parses it) to start the next `husk run` with the same
// arguments up to the image before the Go runtime does. Its records are
// abi.h's launch tags, each a length and its bytes.
type Launch struct {
	Key     []byte // the invocation up to the image (LaunchKey)
	Watch   []byte // files whose change voids the launch, with their identities (Watch)
	Flags   int    // the clone flags
	Mapping *userns.Mapping
	ID      string // the container ID this launch was written for
	Stdin   bool
	Net     bool   // the builtin network's socket
	Spec    []byte // the C init's spec without the process's arguments
	Entry   []string
	Default []string // the arguments when the run gives no command
	JSON    []byte   // the spec as the container records it
	ImageID string
	// Claim is a user-defined network's lease file and the reservation
	// it holds for this launch (usernet.Store.Reserve); empty: none.
	Claim, Reservation string
}

// Encode is the launch file's bytes.
func (l *Launch) Encode() []byte {
	uids, gids := idMaps(l.Mapping)
	var b bytes.Buffer
	b.WriteString(abi.LaunchMagic)
	for _, r := range []record{
		{abi.LaunchKey, l.Key}, {abi.LaunchWatch, l.Watch}, {abi.LaunchFlags, []byte(fmt.Sprint(l.Flags))},
		{abi.LaunchMode, []byte(l.Mapping.Mode)}, {abi.LaunchUIDMap, uids}, {abi.LaunchGIDMap, gids}, {abi.LaunchID, []byte(l.ID)},
		{abi.LaunchStdin, bit(l.Stdin)}, {abi.LaunchNet, bit(l.Net)}, {abi.LaunchSpec, l.Spec},
		{abi.LaunchEntry, tokens(l.Entry)}, {abi.LaunchDefault, tokens(l.Default)}, {abi.LaunchJSON, l.JSON},
		{abi.LaunchImage, []byte(l.ImageID)},
	} {
		r.write(&b)
	}
	if l.Claim != "" {
		record{abi.LaunchClaim, []byte(l.Claim + "\x00" + l.Reservation + "\x00")}.write(&b)
	}
	return b.Bytes()
}

// record is one TAG LENGTH NL BYTES NL of a launch or entry file.
type record struct {
	tag abi.LaunchTag
	v   []byte
}

func (r record) write(b *bytes.Buffer) {
	fmt.Fprintf(b, "%c%d\n", r.tag, len(r.v))
	b.Write(r.v)
	b.WriteByte('\n')
}

// idMaps are a mapping's uid and gid maps as the C side writes them: the
// kernel's lines, or newuidmap's and newgidmap's arguments.
func idMaps(m *userns.Mapping) (uids, gids []byte) {
	if m.Mode == userns.ModeSubuid {
		return helperArgs(m.NewUIDMap, m.UIDMap), helperArgs(m.NewGIDMap, m.GIDMap)
	}
	return mapLines(m.UIDMap), mapLines(m.GIDMap)
}

// Entry is the written-down way into husk's user and mount namespace: the
// file usernsentry.c reads to run save, load or push there before the Go
// runtime starts, rather than have userns.Enter re-execute husk. Its
// records are a launch's: the files whose change voids it (Watch), the
// clone flags, the mapping.
type Entry struct {
	Watch   []byte
	Mapping *userns.Mapping
}

// Encode is the entry file's bytes.
func (e *Entry) Encode() []byte {
	uids, gids := idMaps(e.Mapping)
	var b bytes.Buffer
	b.WriteString(abi.EntryMagic)
	flags := unix.CLONE_NEWUSER | unix.CLONE_NEWNS
	for _, r := range []record{
		{abi.LaunchWatch, e.Watch}, {abi.LaunchFlags, []byte(fmt.Sprint(flags))},
		{abi.LaunchMode, []byte(e.Mapping.Mode)}, {abi.LaunchUIDMap, uids}, {abi.LaunchGIDMap, gids},
	} {
		r.write(&b)
	}
	return b.Bytes()
}

// Write puts the entry where usernsentry.c looks for it under the store's
// root, whole or not at all; an entry that is there already is left.
func (e *Entry) Write(root string) error {
	b := e.Encode()
	path := filepath.Join(root, abi.LaunchDir, abi.EntryName)
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, b) {
		return nil
	}
	return writeWhole(path, b)
}

// LaunchName is the file name of the launch with key key.
func LaunchName(key []byte) string {
	h := fnv.New64a()
	h.Write(key)
	return fmt.Sprintf("%s%016x", abi.LaunchPrefix, h.Sum64())
}

// Write puts the launch where prelaunch.c looks for its key under the
// store's root, whole or not at all.
func (l *Launch) Write(root string) error {
	return writeWhole(filepath.Join(root, abi.LaunchDir, LaunchName(l.Key)), l.Encode())
}

// writeWhole writes b to path through a file renamed into place.
func writeWhole(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// ParseLaunch reads what the Go side needs back of a launch the prelaunch
// followed: the ID it was written for, the spec in JSON, the arguments and
// the image.
func ParseLaunch(b []byte) *Launch {
	r := map[abi.LaunchTag][]byte{}
	b, ok := bytes.CutPrefix(b, []byte(abi.LaunchMagic))
	for ok && len(b) > 0 {
		tag := abi.LaunchTag(b[0])
		n, rest := 0, b[1:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if _, err := fmt.Sscan(string(rest[:i]), &n); err != nil || n+1 > len(rest)-i-1 {
			break
		}
		r[tag] = rest[i+1 : i+1+n]
		// prelaunch.c ended each record with a NUL where the newline was.
		b = rest[i+1+n+1:]
	}
	l := &Launch{ID: string(r[abi.LaunchID]), JSON: r[abi.LaunchJSON], Entry: splitTokens(r[abi.LaunchEntry]),
		Default: splitTokens(r[abi.LaunchDefault]), ImageID: string(r[abi.LaunchImage])}
	if c := splitTokens(r[abi.LaunchClaim]); len(c) == 2 {
		l.Claim, l.Reservation = c[0], c[1]
	}
	return l
}

func bit(on bool) []byte {
	if on {
		return []byte("1")
	}
	return []byte("0")
}

func tokens(list []string) []byte {
	var b bytes.Buffer
	for _, t := range list {
		b.WriteString(t)
		b.WriteByte(0)
	}
	return b.Bytes()
}

func splitTokens(b []byte) []string {
	var out []string
	for _, t := range bytes.Split(b, []byte{0}) {
		out = append(out, string(t))
	}
	if len(out) > 0 {
		out = out[:len(out)-1] // after the last NUL
	}
	return out
}

func mapLines(m []userns.IDMap) []byte {
	var b bytes.Buffer
	for _, l := range m {
		fmt.Fprintf(&b, "%d %d %d\n", l.ContainerID, l.HostID, l.Size)
	}
	return b.Bytes()
}

// helperArgs are newuidmap's or newgidmap's path and ranges, NUL-separated;
// the pid goes in after the path.
func helperArgs(bin string, m []userns.IDMap) []byte {
	var b bytes.Buffer
	b.WriteString(bin)
	b.WriteByte(0)
	for _, l := range m {
		fmt.Fprintf(&b, "%d\x00%d\x00%d\x00", l.ContainerID, l.HostID, l.Size)
	}
	return b.Bytes()
}
