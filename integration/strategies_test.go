package integration

import "testing"

// Each root-filesystem strategy, forced, pulls the layers image and shows
// the same content.
func TestStrategies(t *testing.T) {
	for _, s := range strategies {
		t.Run(s, func(t *testing.T) {
			e := newEnv(t)
			// The flag on the pull, the variable for every later command
			// (husk unshare, image mount, reset): the same store, one driver.
			e.vars["HUSK_STORAGE_DRIVER"] = s
			ref := plain.Ref("layers:latest")
			r := e.pull(ref, "--storage-driver", s)
			checkNotice(t, r)
			if got := infoString(t, infoJSON(t, e), infoKeys.Strategy); got != s {
				t.Errorf("forced %s, info reports %s = %q", s, infoKeys.Strategy, got)
			}
			wantOnlyImage(t, e, images.Layers)
			checkLayersImage(t, e, ref)
		})
	}
}
