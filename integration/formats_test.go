package integration

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ps --format 'table ...' prints Docker's header, and \t typed in single
// quotes is a tab; name= filters by regular expression.
func TestPsFormatAndNameFilter(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.out("create", "--name", "rs", ref, "true")
	e.out("create", "--name", "rs2", ref, "true")
	out := e.out("ps", "-a", "--format", `table {{.Names}}\t{{.Status}}\t{{.ID}}`)
	l := lines(out)
	if len(l) != 3 || !regexp.MustCompile(`^NAMES +STATUS +CONTAINER ID$`).MatchString(l[0]) {
		t.Fatalf("want Docker's header and two rows: %q", out)
	}
	if strings.Contains(out, `\t`) || !regexp.MustCompile(`^rs2? +Created +[0-9a-f]{12}$`).MatchString(l[1]) {
		t.Errorf("want tab-aligned columns, no literal \\t: %q", out)
	}
	if out := e.out("ps", "-a", "--format", "{{.Names}}", "--filter", "name=^rs$"); out != "rs" {
		t.Errorf("--filter name=^rs$: want only rs: %q", out)
	}
	if out := e.out("ps", "-a", "--format", "{{.Names}}", "--filter", "name=s2"); out != "rs2" {
		t.Errorf("--filter name=s2: want rs2 (a part of the name matches): %q", out)
	}
	e.wantError(e.run("ps", "--filter", "name=[x"), "name=[x", "regular expression")
	if out := e.out("images", "--format", `table {{.Repository}}\t{{.ID}}`); !regexp.MustCompile(`^REPOSITORY +IMAGE ID\n`).MatchString(out) {
		t.Errorf("images --format table: want Docker's header: %q", out)
	}
	e.out("rm", "rs", "rs2")
}

// husk version prints the client section of docker version; --format
// takes Docker's fields.
func TestVersionVerb(t *testing.T) {
	e := newEnv(t)
	out := e.out("version")
	for _, w := range []string{"Client:", "Version:", "Git commit:", "Go version:", "OS/Arch:"} {
		if !strings.Contains(out, w) {
			t.Errorf("husk version: want %q: %q", w, out)
		}
	}
	if !regexp.MustCompile(`OS/Arch: +linux/amd64`).MatchString(out) {
		t.Errorf("husk version: want OS/Arch linux/amd64: %q", out)
	}
	flagV := strings.TrimSpace(e.out("--version"))
	v := e.out("version", "--format", "{{.Client.Version}}")
	if v == "" || !strings.Contains(flagV, v) {
		t.Errorf("version --format {{.Client.Version}} = %q, want the version --version names: %q", v, flagV)
	}
	var j struct {
		Client struct{ Version, GitCommit, Os, Arch string }
	}
	if err := json.Unmarshal([]byte(e.out("version", "--format", "json")), &j); err != nil || j.Client.Version != v || j.Client.Os != "linux" {
		t.Errorf("version --format json: %+v %v", j, err)
	}
}

// Every husk flag husk info suggests exists: a fix must be one the user
// can type.
func TestInfoNamesOnlyRealFlags(t *testing.T) {
	e := newEnv(t)
	info := e.out("info")
	help := e.out("run", "--help") + e.out("--help") + e.out("shell", "--help")
	for _, l := range lines(info) {
		// A husk command runs from "husk " to the end of its clause.
		_, cmd, ok := strings.Cut(l, "husk ")
		if i := strings.IndexAny(cmd, ":()"); i >= 0 {
			cmd = cmd[:i]
		}
		for _, f := range regexp.MustCompile(`--[a-z][a-z-]+`).FindAllString(cmd, -1) {
			if ok && !strings.Contains(help, f) {
				t.Errorf("husk info suggests %s, which no husk command has: %q", f, l)
			}
		}
	}
	if strings.Contains(info, "--memory") || strings.Contains(info, "--cpus") {
		t.Errorf("husk info names --memory or --cpus, which husk does not have yet: %q", info)
	}
}

// husk completion SHELL prints what makes the shell ask husk, and husk
// answers the shell's request (COMP_LINE, as bash's complete -C and the
// fish function send it) from its own verbs and flags.
func TestCompletion(t *testing.T) {
	e := newEnv(t)
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if out := e.out("completion", sh); !strings.Contains(out, huskBin) {
			t.Errorf("completion %s: want the code to call %s: %q", sh, huskBin, out)
		}
	}
	for line, want := range map[string][]string{
		"husk container st": {"start", "stop"},
		"husk run --netw":   {"--network"},
		"husk image ":       {"ls", "pull", "rm", "inspect"},
	} {
		e.vars["COMP_LINE"], e.vars["COMP_POINT"] = line, strconv.Itoa(len(line))
		r := e.run()
		got := lines(r.stdout)
		for _, w := range want {
			if r.code != 0 || !slices.Contains(got, w) {
				t.Errorf("completing %q: want %q among %q: %s", line, w, got, r)
			}
		}
	}
	delete(e.vars, "COMP_LINE")
	delete(e.vars, "COMP_POINT")
	e.wantError(e.run("completion", "tcsh"), "tcsh")
}

// Docker's management forms are the short verbs under other names.
func TestManagementForms(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	if out := e.out("container", "run", "--rm", "-h", "mgmt", ref, "hostname"); out != "mgmt" {
		t.Errorf("container run -h mgmt: %q", out)
	}
	id := e.out("container", "create", "--name", "mg", ref, "true")
	if out := e.out("container", "ls", "-a", "-q", "--no-trunc"); out != id {
		t.Errorf("container ls -a -q: want %s: %q", id, out)
	}
	if out := e.out("container", "list", "-a", "--format", "{{.Names}}"); out != "mg" {
		t.Errorf("container list: %q", out)
	}
	e.out("container", "rm", "mg")
	if out := e.out("container", "ps", "-a", "-q"); out != "" {
		t.Errorf("container rm: want it gone: %q", out)
	}
	e.out("image", "tag", ref, "mgmt:1")
	if out := e.out("image", "ls", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "mgmt:1") {
		t.Errorf("image ls: want mgmt:1: %q", out)
	}
	e.out("image", "rm", "mgmt:1")
	if out := e.out("image", "list", "--format", "{{.Repository}}"); strings.Contains(out, "mgmt") {
		t.Errorf("image rm mgmt:1: want it gone: %q", out)
	}
	e.noLeftovers()
}
