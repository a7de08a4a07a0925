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
