package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// The database-and-web-app case of Docker's getting-started guide (issue
// 18): a web app and its database on a network of their own, the data in
// a named volume, the web app reaching the database by its alias, the
// host reaching the web app through a published port.

// pythonImage is the python image, built and pushed once per test run.
var pythonImage struct {
	once sync.Once
	err  error
}

// pythonRef pushes the python image (PythonImage) to the plain registry
// on first use and returns its reference.
func pythonRef(t *testing.T) string {
	t.Helper()
	pythonImage.once.Do(func() {
		img, err := PythonImage()
		if err == nil {
			err = plain.Push("python:latest", img)
		}
		pythonImage.err = err
	})
	if pythonImage.err != nil {
		t.Fatalf("building the python image: %v", pythonImage.err)
	}
	return plain.Ref("python:latest")
}

// todoDB is the database: a JSON list of items in /data/todo.json, over
// HTTP on port 5000 (GET and POST /items). A write goes to a new file,
// synced, then renamed over the old one. Each answer names the container
// (its hostname) that served it.
const todoDB = `
import http.server, json, os, socket
PATH = "/data/todo.json"
def load():
    try:
        with open(PATH) as f:
            return json.load(f)
    except FileNotFoundError:
        return []
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        if self.path != "/items":
            return self.reply(404, {"error": "no such path"})
        self.reply(200, {"items": load(), "db": socket.gethostname()})
    def do_POST(self):
        item = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        items = load() + [item]
        with open(PATH + ".new", "w") as f:
            json.dump(items, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(PATH + ".new", PATH)
        self.reply(201, {"items": items, "db": socket.gethostname()})
http.server.ThreadingHTTPServer(("", 5000), H).serve_forever()
`

// todoWeb is the web app on port 8000: /items passed on to http://db:5000,
// the name looked up at each request; 502 when the database is away.
const todoWeb = `
import http.server, json, urllib.request, urllib.error
DB = "http://db:5000/items"
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.ask(urllib.request.Request(DB))
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.ask(urllib.request.Request(DB, data=body, method="POST", headers={"Content-Type": "application/json"}))
    def ask(self, req):
        if self.path != "/items":
            code, body = 404, b'{"error": "no such path"}'
        else:
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    code, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                code, body = e.code, e.read()
            except OSError as e:
                code, body = 502, json.dumps({"error": "the database: %s" % e}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("", 8000), H).serve_forever()
`

// todoAnswer is what the web app passes on from the database.
type todoAnswer struct {
	Items []struct{ Title string }
	DB    string
	Error string
}

// todo asks the web app at url with method (a POST sends title), retrying
// for up to limit while it or the database behind it comes up; it returns
// the last status and answer.
func todo(t *testing.T, method, url, title string, limit time.Duration) (int, todoAnswer) {
	t.Helper()
	var code int
	var ans todoAnswer
	var last error
	for end := time.Now().Add(limit); ; time.Sleep(200 * time.Millisecond) {
		var body io.Reader
		if title != "" {
			body = strings.NewReader(fmt.Sprintf(`{"title": %q}`, title))
		}
		req, err := http.NewRequest(method, url, body)
		if err != nil {
			t.Fatal(err)
		}
		// Long enough for the web app's lookup of a name its network
		// lacks, forwarded upstream, to fail on a host with no DNS.
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			code, ans = resp.StatusCode, todoAnswer{}
			if err = json.Unmarshal(b, &ans); err != nil {
				err = fmt.Errorf("%d %q: %w", code, b, err)
			} else if code/100 == 2 {
				return code, ans
			} else {
				err = fmt.Errorf("status %d: %+v", code, ans)
			}
		}
		last = err
		if time.Now().After(end) {
			if limit > 0 {
				t.Logf("%s %s: gave up after %v: %v", method, url, limit, last)
			}
			return code, ans
		}
	}
}

func titles(a todoAnswer) string {
	var s []string
	for _, it := range a.Items {
		s = append(s, it.Title)
	}
	return strings.Join(s, ",")
}

func TestUserNetworkWebAndDB(t *testing.T) {
	e, bb := busyboxEnv(t, "")
	py := pythonRef(t)
	e.pull(py)
	port := freePort(t, "tcp")
	items := fmt.Sprintf("http://127.0.0.1:%d/items", port)

	e.ok("network", "create", "todo")
	e.ok("volume", "create", "todo-db")
	// The database is reached by its alias, as in Docker's guide.
	dbRun := []string{"run", "-d", "--name", "database", "--network", "todo", "--network-alias", "db", "-v", "todo-db:/data", py, "python3", "-c", todoDB}
	e.ok(dbRun...)
	e.ok("run", "-d", "--name", "web", "--network", "todo", "-p", fmt.Sprintf("127.0.0.1:%d:8000", port), py, "python3", "-c", todoWeb)

	if code, a := todo(t, "POST", items, "buy milk", 30*time.Second); code != 201 || titles(a) != "buy milk" {
		t.Fatalf("POST through the web app: %d %+v\n%s\n%s", code, a, e.run("logs", "web"), e.run("logs", "database"))
	}
	webPID := e.inspect("web").State.Pid
	todo(t, "POST", items, "walk the dog", 10*time.Second)
	code, first := todo(t, "GET", items, "", 10*time.Second)
	if code != 200 || titles(first) != "buy milk,walk the dog" || first.DB == "" {
		t.Errorf("GET through the web app: %d %+v", code, first)
	}

	// The database goes: the web app, still up, says so.
	e.ok("rm", "-f", "database")
	if code, a := todo(t, "GET", items, "", 0); code != 502 || a.Error == "" {
		t.Errorf("GET with the database removed: want the web app's 502, got %d %+v", code, a)
	}
	// A new database on the same volume: the items are still there, and the
	// web app reaches it by name with no restart.
	e.ok(dbRun...)
	code, second := todo(t, "GET", items, "", 30*time.Second)
	if code != 200 || titles(second) != "buy milk,walk the dog" {
		t.Errorf("GET after the database was re-created on its volume: %d %+v\n%s", code, second, e.run("logs", "database"))
	}
	if second.DB == first.DB {
		t.Errorf("the answer came from %q, the removed database's hostname, not the new one's", second.DB)
	}
	if code, a := todo(t, "POST", items, "water plants", 10*time.Second); code != 201 || titles(a) != "buy milk,walk the dog,water plants" {
		t.Errorf("POST to the new database: %d %+v", code, a)
	}
	// Once more at another address (the first new one took the old one's):
	// the name, not a cached address, leads the web app to it.
	subnet := netip.MustParsePrefix(e.out("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", "todo"))
	b := subnet.Addr().As4()
	b[3] = 200
	moved := netip.AddrFrom4(b).String()
	e.ok("rm", "-f", "database")
	e.ok(append([]string{"run", "-d", "--ip", moved}, dbRun[2:]...)...)
	if got := e.out("network", "inspect", "-f", "{{range .Containers}}{{if eq .Name \"database\"}}{{.IPv4Address}}{{end}}{{end}}", "todo"); !strings.HasPrefix(got, moved+"/") {
		t.Errorf("the third database's address: want %s, got %q", moved, got)
	}
	code, third := todo(t, "GET", items, "", 30*time.Second)
	if code != 200 || titles(third) != "buy milk,walk the dog,water plants" || third.DB == second.DB {
		t.Errorf("GET after the database moved to %s: %d %+v (the one before: %s)", moved, code, third, second.DB)
	}
	if pid := e.inspect("web").State.Pid; pid != webPID || pid == 0 {
		t.Errorf("the web app's process changed from %d to %d: it was restarted", webPID, pid)
	}
	// The file in the volume, as another container sees it.
	if got := e.sbxOut([]string{"--rm", "-v", "todo-db:/data:ro"}, bb, "cat", "/data/todo.json"); !strings.Contains(got, `"water plants"`) {
		t.Errorf("the volume's todo.json: %q", got)
	}

	e.ok("rm", "-f", "web", "database")
	e.ok("network", "rm", "todo")
	e.ok("volume", "rm", "todo-db")
	if n := e.volumeNames(); len(n) != 0 {
		t.Errorf("volumes left: %q", n)
	}
	if got := e.out("network", "ls", "-q"); got != "" {
		t.Errorf("networks left: %q", got)
	}
	e.noLeftovers()
}
