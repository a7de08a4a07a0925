package cli

import (
	"fmt"
	"strings"
)

// fakeIDs reads --security-opt fake-ids=BOOL (the last one wins): whether,
// without subuid ranges, husk's seccomp filter fakes id changes and chowns
// (seccomp.FakeIDs). On unless turned off.
func fakeIDs(opts []string) bool {
	on := true
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		if !strings.Contains(o, "=") {
			k, v, _ = strings.Cut(o, ":")
		}
		if k == "fake-ids" {
			on, _ = parseFakeIDs(v)
		}
	}
	return on
}

func parseFakeIDs(v string) (bool, error) {
	switch v {
	case "", "true":
		return true, nil
	case "false":
		return false, nil
	}
	return true, fmt.Errorf("--security-opt fake-ids=%s: give fake-ids=true or fake-ids=false", v)
}
