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
// would be), and the installed program runs. As husk-nosub, apt-get's id
// changes go through the fake-ids seccomp filter; its download methods
// then check that the switch to the _apt user took effect, and fail
// ("Could not switch group"), so the step first tells apt to fetch as
// root, as Charliecloud's --force=seccomp does for Debian.
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
	sandbox := ""
	if !e.subuid() {
		sandbox = `echo 'APT::Sandbox::User "root";' > /etc/apt/apt.conf.d/no-sandbox && `
	}
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": `FROM debian:bookworm
RUN ` + sandbox + `echo "deb [trusted=yes] http://host.husk.internal:` + port + `/ ./" > /etc/apt/sources.list && rm -f /etc/apt/sources.list.d/* && apt-get update && apt-get install -y hello
`})
	e.ok("build", "--network", "builtin:allow_host_loopback=true", "-t", "hello", dir)
	if out := e.ok("run", "--rm", "hello", "hello").stdout; strings.TrimSpace(out) != "Hello, world!" {
		t.Errorf("hello from the built image: %q", out)
	}
}
