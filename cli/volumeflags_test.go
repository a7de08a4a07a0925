package cli

import "testing"

func TestParseVolumeFlag(t *testing.T) {
	for spec, want := range map[string]string{
		"data:/d":        "data /d false false false",
		"data:/d/:ro":    "data /d true false false",
		"data:/d:nocopy": "data /d false false true",
		"/anon":          " /anon false true false",
		"xy:/d:rw,ro":    "xy /d true false false",
		"b@d:/d":         "",
		"data:relative":  "",
		"data:/":         "",
		"data:/d:weird":  "",
		"a:/b:ro:extra":  "",
		"relative":       "",
	} {
		r, err := parseVolumeFlag(spec)
		got := ""
		if err == nil {
			got = r.Name + " " + r.Destination + " " + fmtBool(r.ReadOnly) + " " + fmtBool(r.Anonymous) + " " + fmtBool(r.NoCopy)
		}
		if got != want {
			t.Errorf("parseVolumeFlag(%q) = %q (%v), want %q", spec, got, err, want)
		}
	}
}

func TestParseMount(t *testing.T) {
	r, err := parseMount("type=volume,source=v1,target=/d,readonly,volume-nocopy")
	if err != nil || r.Name != "v1" || r.Destination != "/d" || !r.ReadOnly || !r.NoCopy || r.mount != nil {
		t.Errorf("volume mount: %+v %v", r, err)
	}
	if r, err := parseMount("dst=/d"); err != nil || !r.Anonymous {
		t.Errorf("anonymous mount: %+v %v", r, err)
	}
	if r, err := parseMount("type=tmpfs,dst=/t,tmpfs-size=1m,ro"); err != nil || r.mount == nil || r.mount.Type != "tmpfs" {
		t.Errorf("tmpfs mount: %+v %v", r, err)
	}
	for _, bad := range []string{"type=volume,src=v", "type=nfs,dst=/d", "dst=/d,colour=blue", "src=b@d,dst=/d", "type=bind,src=rel,dst=/d"} {
		if _, err := parseMount(bad); err == nil {
			t.Errorf("parseMount(%q): want an error", bad)
		}
	}
}

func fmtBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
