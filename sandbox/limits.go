package sandbox

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rlimits are the names --ulimit takes, as Docker's (go-units), and the
// kernel's resource numbers the executor passes to setrlimit.
var rlimits = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

// DefaultPidsLimit is the RLIMIT_NPROC every container gets when no
// delegated cgroup can hold a pids.max, and neither --pids-limit nor
// --ulimit nproc= is given: a fork bomb then stops there instead of at
// the host's pid_max, which every user of the host shares.
const DefaultPidsLimit = 4096

// ParseUlimit reads --ulimit NAME=SOFT[:HARD] (-1: unlimited) as an OCI
// rlimit, refusing a hard limit above the caller's own, which a user
// namespace cannot raise.
func ParseUlimit(u string) (specs.POSIXRlimit, error) {
	name, vals, ok := strings.Cut(u, "=")
	res, known := rlimits[name]
	if !ok || !known {
		return specs.POSIXRlimit{}, fmt.Errorf("invalid --ulimit %q: use NAME=SOFT[:HARD] with NAME one of %s", u, strings.Join(rlimitNames(), ", "))
	}
	softS, hardS, hasHard := strings.Cut(vals, ":")
	if !hasHard {
		hardS = softS
	}
	soft, err1 := limitValue(softS)
	hard, err2 := limitValue(hardS)
	if err1 != nil || err2 != nil {
		return specs.POSIXRlimit{}, fmt.Errorf("invalid --ulimit %q: the limits must be numbers (or -1 for unlimited)", u)
	}
	if soft > hard {
		return specs.POSIXRlimit{}, fmt.Errorf("invalid --ulimit %q: the soft limit %s is above the hard limit %s", u, softS, hardS)
	}
	var own unix.Rlimit
	if err := unix.Getrlimit(res, &own); err == nil && hard > own.Max {
		return specs.POSIXRlimit{}, fmt.Errorf("invalid --ulimit %q: the hard limit is above your own (%s), which a rootless container cannot raise: lower it", u, limitString(own.Max))
	}
	return specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: soft, Hard: hard}, nil
}

// PidsRlimit is --pids-limit N as the RLIMIT_NPROC that stands in for a
// cgroup's pids.max (0 or less: no limit), never above the caller's own.
func PidsRlimit(n int64) specs.POSIXRlimit {
	var own unix.Rlimit
	v := uint64(unix.RLIM_INFINITY)
	if n > 0 {
		v = uint64(n)
	}
	if unix.Getrlimit(unix.RLIMIT_NPROC, &own) == nil && v > own.Max {
		v = own.Max
	}
	return specs.POSIXRlimit{Type: "RLIMIT_NPROC", Soft: v, Hard: v}
}

// HasRlimit reports whether rl sets the rlimit typ (RLIMIT_NPROC ...).
func HasRlimit(rl []specs.POSIXRlimit, typ string) bool {
	for _, r := range rl {
		if r.Type == typ {
			return true
		}
	}
	return false
}

// Rlimit is one setrlimit the executor makes before the process's exec.
type Rlimit struct {
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

// rlimitsOf turns OCI rlimits into the kernel's numbers.
func rlimitsOf(rl []specs.POSIXRlimit) ([]Rlimit, error) {
	var out []Rlimit
	for _, r := range rl {
		res, ok := rlimits[strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_"))]
		if !ok {
			return nil, fmt.Errorf("the container's config names the rlimit %s, which husk does not know: remove the container and create it again", r.Type)
		}
		out = append(out, Rlimit{Resource: res, Soft: r.Soft, Hard: r.Hard})
	}
	return out, nil
}

func limitValue(s string) (uint64, error) {
	if s == "-1" {
		return unix.RLIM_INFINITY, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

func limitString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

func rlimitNames() []string {
	var out []string
	for n := range rlimits {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
