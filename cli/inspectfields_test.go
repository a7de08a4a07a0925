package cli

import (
	"reflect"
	"strings"
	"testing"

	"husk/sandbox"
	"husk/store/container"
)

func TestPortMapOf(t *testing.T) {
	got := portMapOf([]string{"8080:80/tcp", "127.0.0.1:5353:53/udp"}, true)
	want := portMap{"80/tcp": {{HostIp: "0.0.0.0", HostPort: "8080"}}, "53/udp": {{HostIp: "127.0.0.1", HostPort: "5353"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bound: got %v, want %v", got, want)
	}
	if got := portMapOf([]string{"8080:80"}, false)["80/tcp"]; len(got) != 1 || got[0].HostIp != "" || got[0].HostPort != "8080" {
		t.Errorf("as configured: got %v", got)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "A=1"}, []string{"A=2", "B=3"})
	if want := []string{"PATH=/bin", "A=2", "B=3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := mergeEnv(nil, nil); got == nil || len(got) != 0 {
		t.Errorf("no environment: want [], got %#v", got)
	}
}

func TestPsLabelFilter(t *testing.T) {
	ct := &container.Container{Record: container.Record{ID: "abc", Name: "web"}, Config: &sandbox.Config{}}
	labels := map[string]map[string]string{"abc": {"tier": "front", "empty": ""}}
	for f, want := range map[string]bool{"label=tier": true, "label=tier=front": true, "label=tier=back": false,
		"label=empty=": true, "label=other": false} {
		match, err := psFilter([]string{f}, labels)
		if err != nil || match(ct) != want {
			t.Errorf("--filter %s: got %v %v, want %v", f, match(ct), err, want)
		}
	}
}

func TestSizeText(t *testing.T) {
	if got := sizeText(0, 7_800_000); got != "0B (virtual 7.8MB)" {
		t.Errorf("got %q", got)
	}
	if got := sizeText(0, 0); got != "0B" {
		t.Errorf("got %q", got)
	}
}

func TestNeedsImage(t *testing.T) {
	for f, want := range map[string]bool{"": true, "{{.State.Pid}}": false, "{{json .Config.Env}}": true,
		"{{json .}}": true, "{{ . }}": true, "{{.Name}} {{index .Config.Labels \"a\"}}": true, "{{json .Mounts}}": false} {
		if got := needsImage(f); got != want {
			t.Errorf("needsImage(%q) = %v, want %v", f, got, want)
		}
	}
}

func TestLabelColumn(t *testing.T) {
	var b strings.Builder
	rows := []psRow{{Names: "web", labels: map[string]string{"tier": "front"}}}
	if err := printTemplate(&b, `table {{.Names}}\t{{.Label "tier"}}`, rows); err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(b.String()); strings.Join(got, " ") != "NAMES LABEL web front" {
		t.Errorf("got %q", b.String())
	}
}
