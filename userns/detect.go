package userns

import (
	"errors"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// Files shadow keeps the ranges in; variables so tests can point elsewhere.
var (
	subuidFile = "/etc/subuid"
	subgidFile = "/etc/subgid"
)

// Detect finds the mapping husk will use for the current user: subuid mode
// when the user has ranges in both /etc/subuid and /etc/subgid (or from
// getsubids) and newuidmap/newgidmap can write them; otherwise the single
// mapping, with the reasons in Plan.Problems (each names its fix). It runs
// on every start of a command that enters the namespace, so it reads two
// small files and stats two binaries, and runs getsubids only for users
// who have no line in the files.
func Detect() (*Mapping, error) {
	uid, gid := os.Getuid(), os.Getgid()
	p := &Mapping{Mode: ModeSingle, User: userName(uid), UID: uid, GID: gid}
	p.UIDMap = []IDMap{{0, uid, 1}}
	p.GIDMap = []IDMap{{0, gid, 1}}

	uids, gids, src, err := subRanges(p.User, uid)
	if err != nil {
		return nil, err
	}
	p.SubUIDs, p.SubGIDs, p.Source = uids, gids, src
	if len(uids) == 0 || len(gids) == 0 {
		p.Problems = append(p.Problems, noRangeError(p.User, len(uids) == 0, len(gids) == 0))
		return p, nil
	}
	var errU, errG error
	p.NewUIDMap, errU = checkHelper("newuidmap", capSetuid)
	p.NewGIDMap, errG = checkHelper("newgidmap", capSetgid)
	if err := errors.Join(errU, errG); err != nil {
		for _, e := range []error{errU, errG} {
			if e != nil {
				p.Problems = append(p.Problems, e)
			}
		}
		return p, nil
	}
	p.Mode = ModeSubuid
	p.UIDMap = appendRanges(p.UIDMap, uids)
	p.GIDMap = appendRanges(p.GIDMap, gids)
	return p, nil
}

// subRanges reads the user's ranges from the files, then from getsubids
// when the files have none (ranges served by NSS). src says which.
func subRanges(name string, uid int) (uids, gids []Range, src string, err error) {
	if uids, err = readSubidFile(subuidFile, name, uid); err != nil {
		return nil, nil, "", newError("reading", subuidFile, err, "")
	}
	if gids, err = readSubidFile(subgidFile, name, uid); err != nil {
		return nil, nil, "", newError("reading", subgidFile, err, "")
	}
	if len(uids) > 0 || len(gids) > 0 {
		return uids, gids, subuidFile, nil
	}
	bin := findHelper("getsubids")
	if bin == "" || name == "" || !nssServesSubids() {
		return nil, nil, "", nil
	}
	uids, gids = getsubids(bin, name, false), getsubids(bin, name, true)
	if len(uids) > 0 || len(gids) > 0 {
		src = "getsubids"
	}
	return uids, gids, src, nil
}

// nssServesSubids reports whether /etc/nsswitch.conf names a subid
// source: only then does getsubids know more than the files (shadow's
// libsubid reads them alone otherwise), and the two runs of it that cost
// ~30 ms on every start are worth it.
func nssServesSubids() bool {
	b, err := os.ReadFile(nsswitchFile)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "subid:" {
			return true
		}
	}
	return false
}

var nsswitchFile = "/etc/nsswitch.conf"

// appendRanges maps container IDs 1.. onto the ranges, in order.
func appendRanges(m []IDMap, rs []Range) []IDMap {
	next := 1
	for _, r := range rs {
		m = append(m, IDMap{ContainerID: next, HostID: r.Start, Size: r.Count})
		next += r.Count
	}
	return m
}

// userName is the login name of uid from /etc/passwd (the build uses the
// pure-Go user lookup, which cannot ask LDAP), else $USER or $LOGNAME.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	for _, v := range []string{"USER", "LOGNAME"} {
		if n := os.Getenv(v); n != "" {
			return n
		}
	}
	return ""
}

// noRangeError says which ranges are missing and how to add both.
func noRangeError(name string, noUID, noGID bool) error {
	what := "no subordinate uid or gid range"
	switch {
	case noUID && !noGID:
		what = "no subordinate uid range"
	case noGID && !noUID:
		what = "no subordinate gid range"
	}
	if name == "" {
		name = "USER"
	}
	return newError("finding ID ranges for", name,
		errors.New(what+" (husk uses the single mapping: one uid, files of other owners squashed)"),
		"ask the admin to add a range: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s", name)
}
