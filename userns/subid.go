package userns

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Range is one subordinate ID range: Count IDs from Start.
type Range struct {
	Start, Count int
}

// parseSubid reads /etc/subuid or /etc/subgid content and returns the
// ranges of the user, matched as shadow's libsubid does: by name or by the
// uid written as a number. File order is kept, so the mapping built from it
// stays the same from run to run.
func parseSubid(r io.Reader, name string, uid int) ([]Range, error) {
	id := strconv.Itoa(uid)
	var out []Range
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || (f[0] != name && f[0] != id) || f[0] == "" {
			continue
		}
		start, err1 := strconv.Atoi(f[1])
		count, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || start < 0 || count <= 0 {
			continue // shadow skips malformed lines too
		}
		out = append(out, Range{start, count})
	}
	return out, sc.Err()
}

// readSubidFile is parseSubid on a file; a missing file means no ranges.
func readSubidFile(path, name string, uid int) ([]Range, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseSubid(f, name, uid)
}

// parseGetsubids reads the output of `getsubids [-g] USER`, one range a
// line: "0: alice 100000 65536".
func parseGetsubids(out []byte) []Range {
	var rs []Range
	for _, line := range bytes.Split(out, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) != 4 || !strings.HasSuffix(f[0], ":") {
			continue
		}
		start, err1 := strconv.Atoi(f[2])
		count, err2 := strconv.Atoi(f[3])
		if err1 == nil && err2 == nil && start >= 0 && count > 0 {
			rs = append(rs, Range{start, count})
		}
	}
	return rs
}

// getsubids asks shadow's getsubids, which also knows ranges served by an
// NSS subid module (FreeIPA, SSSD) that /etc/subuid does not list. gid
// selects -g. A missing binary or an error means no ranges.
func getsubids(bin, user string, gid bool) []Range {
	if bin == "" {
		return nil
	}
	args := []string{user}
	if gid {
		args = []string{"-g", user}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		return nil
	}
	return parseGetsubids(out)
}
