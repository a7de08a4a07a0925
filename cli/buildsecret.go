package cli

import (
	"fmt"
	"os"
	"strings"

	"husk/build"
)

// parseSecrets reads --secret id=ID,src=FILE|env=VAR (Docker's
// spelling; source= and type=file|env as well). A file must be readable
// now, so that a typo stops the build before any step runs.
func parseSecrets(specs []string) (map[string]build.Secret, error) {
	out := map[string]build.Secret{}
	for _, spec := range specs {
		var id string
		var s build.Secret
		for _, f := range strings.Split(spec, ",") {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "id":
				id = v
			case "src", "source":
				s.File = v
			case "env":
				s.Env = v
			case "type":
				if v != "file" && v != "env" {
					return nil, fmt.Errorf("--secret %s: type=%s: use type=file or type=env", spec, v)
				}
			default:
				return nil, fmt.Errorf("--secret %s: unknown field %q: give id=ID,src=FILE or id=ID,env=VAR", spec, k)
			}
		}
		if id == "" || (s.File == "") == (s.Env == "") {
			return nil, fmt.Errorf("--secret %s: give id=ID and one of src=FILE or env=VAR", spec)
		}
		if s.File != "" {
			f, err := os.Open(s.File)
			if err != nil {
				return nil, fmt.Errorf("--secret %s: %w: give a readable file", spec, err)
			}
			f.Close()
		}
		out[id] = s
	}
	return out, nil
}
