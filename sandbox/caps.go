package sandbox

import (
	"fmt"
	"strings"

	"github.com/moby/sys/capability"
)

// ParseCaps turns names such as "CAP_NET_ADMIN", "net_admin" or "ALL" into
// capabilities, for --cap-add and --cap-drop.
func ParseCaps(names []string) ([]capability.Cap, error) {
	known := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		known[c.String()] = c
	}
	var out []capability.Cap
	for _, n := range names {
		key := strings.ToLower(strings.TrimPrefix(strings.ToUpper(n), "CAP_"))
		if key == "all" {
			return capability.ListKnown(), nil
		}
		c, ok := known[key]
		if !ok {
			return nil, fmt.Errorf("unknown capability %q: use names such as CAP_NET_ADMIN (see capabilities(7))", n)
		}
		out = append(out, c)
	}
	return out, nil
}

// CapNames is the inverse of ParseCaps, in Docker's spelling.
func CapNames(caps []capability.Cap) []string {
	var out []string
	for _, c := range caps {
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

// dropBounding leaves the calling thread's bounding set at caps: what the
// process may ever hold, even as uid 0 after execve.
func dropBounding(names []string) error {
	c, keep, err := threadCaps(names)
	if err != nil {
		return err
	}
	c.Clear(capability.BOUNDS)
	c.Set(capability.BOUNDING, keep...)
	if err := c.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("dropping capabilities from the bounding set: %w", err)
	}
	return nil
}

// limitCaps leaves the calling thread with at most caps permitted and
// effective (none at all after a switch to a uid other than 0, which has
// cleared them) and none inheritable or ambient (Docker since
// CVE-2022-24769).
func limitCaps(names []string) error {
	c, keep, err := threadCaps(names)
	if err != nil {
		return err
	}
	var have []capability.Cap
	for _, k := range keep {
		if c.Get(capability.PERMITTED, k) {
			have = append(have, k)
		}
	}
	c.Clear(capability.CAPS | capability.AMBS)
	c.Set(capability.PERMITTED|capability.EFFECTIVE, have...)
	if err := c.Apply(capability.CAPS | capability.AMBS); err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	return nil
}

func threadCaps(names []string) (capability.Capabilities, []capability.Cap, error) {
	keep, err := ParseCaps(names)
	if err != nil {
		return nil, nil, err
	}
	c, err := capability.NewPid2(0)
	if err == nil {
		err = c.Load()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading capabilities: %w", err)
	}
	return c, keep, nil
}
