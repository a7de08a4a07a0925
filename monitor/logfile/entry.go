package logfile

import (
	"encoding/json"
	"time"
)

// Entry is one line of a log. Its JSON is exactly Docker's json-file one,
// the same field names in the same order.
type Entry struct {
	// Log is the output, with its newline unless the line was cut at 16 KiB
	// or was still unfinished when the log was closed.
	Log    string    `json:"log"`
	Stream string    `json:"stream"` // "stdout" or "stderr"
	Time   time.Time `json:"time"`   // when the monitor read it, RFC 3339 with nanoseconds, UTC
}

// encode renders one entry as a line of the file. encoding/json escapes
// <, > and & and replaces invalid UTF-8, as Docker's encoder does too.
func encode(stream string, log []byte, t time.Time) ([]byte, error) {
	b, err := json.Marshal(Entry{Log: string(log), Stream: stream, Time: t.UTC()})
	return append(b, '\n'), err
}

// decode parses a line of the file; false means it is not an entry (a line
// torn by a crash, say), which readers skip rather than fail on.
func decode(line []byte) (Entry, bool) {
	var e Entry
	err := json.Unmarshal(line, &e)
	return e, err == nil
}
