package integration

import (
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// debianDir is prepare.sh's Debian bookworm base (bookworm.tar) and flat
// apt repository holding hello (repo/).
const debianDir = "/var/cache/husk-test/debian"

// A RUN installs a Debian package with apt-get, through husk's builtin
// network, from a repository served on the host's loopback (as a mirror
// would be), and the installed program runs; `husk run` installs it too.
// As husk-nosub, apt-get's id changes go through the fake-ids seccomp
// filter, and husk tells apt to fetch as root (its check that the switch
// to _apt took effect would fail): the Dockerfile is the one a Docker
// user writes, and the image gets no apt config of husk's.
func TestBuildAptInstall(t *testing.T) {
	e := newEnv(t)
	if _, err := os.Stat(debianDir + "/repo/Packages"); err != nil {
		t.Fatalf("the Debian base and apt repository are missing (integration/prepare.sh makes them): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(debianDir + "/repo"))}
	go srv.Serve(ln)
	defer srv.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	e.ok("import", debianDir+"/bookworm.tar", "debian:bookworm")
	install := `echo "deb [trusted=yes] http://host.husk.internal:` + port + `/ ./" > /etc/apt/sources.list && rm -f /etc/apt/sources.list.d/* && apt-get update && apt-get install -y hello`
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM debian:bookworm\nRUN " + install + "\n"})
	e.ok("build", "--network", "builtin:allow_host_loopback=true", "-t", "hello", dir)
	if out := e.ok("run", "--rm", "hello", "hello").stdout; strings.TrimSpace(out) != "Hello, world!" {
		t.Errorf("hello from the built image: %q", out)
	}
	if out := e.ok("run", "--rm", "hello", "ls", "-a", "/etc/apt/apt.conf.d").stdout + e.ok("image", "inspect", "-f", "{{.Config.Env}}", "hello").stdout; strings.Contains(out, "husk") || strings.Contains(out, "APT") {
		t.Errorf("apt config of husk's in the built image: %q", out)
	}
	if env := e.ok("run", "--rm", "hello", "env").stdout; strings.Contains(env, "APT_CONFIG") == e.subuid() {
		t.Errorf("APT_CONFIG should be set only where ids are faked (without subuid ranges): %q", env)
	}
	out := e.ok("run", "--rm", "--network", "builtin:allow_host_loopback=true", "debian:bookworm", "sh", "-c", "("+install+") >/dev/null && hello").stdout
	if strings.TrimSpace(out) != "Hello, world!" {
		t.Errorf("hello installed by apt-get in husk run: %q", out)
	}
}
