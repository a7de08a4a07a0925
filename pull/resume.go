package pull

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// blobRetries is how many times a blob body that stalls or is cut is asked
// for again before the pull fails.
const blobRetries = 3

// resumingBody is a blob's body that, when the registry stalls or drops
// the connection partway, asks again for the rest: `Range: bytes=N-` on the
// same URL through the same transport (so with the same credentials, and
// its own idle watch).
//
// It sits under go-containerregistry's digest and size check and under the
// decompressor, which see one unbroken stream: the bytes already passed up
// cannot be taken back, so the rest must continue exactly where they
// stopped. A 206 whose Content-Range starts at N does; a registry that
// ignores the range answers 200 with the whole blob, whose first N bytes
// are read and dropped. Either way the digest is checked over every byte
// delivered, so a registry that sends other bytes the second time fails
// the pull as a corrupted blob, never stores it.
type resumingBody struct {
	io.ReadCloser
	b      *bounded
	req    *http.Request // the request that answered 200
	total  int64         // the blob's Content-Length, -1 if unknown
	read   int64
	tries  int
	failed error // the retries are spent
}

func (rb *resumingBody) Read(p []byte) (int, error) {
	for {
		if rb.failed != nil {
			return 0, rb.failed
		}
		n, err := rb.ReadCloser.Read(p)
		rb.read += int64(n)
		if err == nil || !resumable(err) || rb.req.Context().Err() != nil {
			return n, err
		}
		if rb.resume() != nil {
			// The last cut or stall, its one line naming the registry and
			// the blob, is every later read's answer too: a short EOF would
			// read as a corrupted blob.
			rb.failed = err
			return n, err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// resume replaces the body with the rest of the blob, trying up to
// blobRetries times in all.
func (rb *resumingBody) resume() error {
	rb.ReadCloser.Close()
	rb.ReadCloser = io.NopCloser(strings.NewReader(""))
	ctx := rb.req.Context()
	for rb.tries < blobRetries {
		rb.tries++
		// A pause, so that a registry that refuses at once is not asked
		// three times within a millisecond.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(rb.tries) * 250 * time.Millisecond):
		}
		body, err := rb.rest()
		if err == nil {
			rb.ReadCloser = body
			return nil
		}
	}
	return errors.New("no retries left")
}

// rest asks for the blob from byte rb.read on.
func (rb *resumingBody) rest() (io.ReadCloser, error) {
	req := rb.req.Clone(rb.req.Context())
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", rb.read))
	resp, err := rb.b.send(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent && rb.rangeMatches(resp.Header.Get("Content-Range")):
		return resp.Body, nil
	case resp.StatusCode == http.StatusOK && (rb.total < 0 || resp.ContentLength == rb.total):
		if _, err := io.CopyN(io.Discard, resp.Body, rb.read); err != nil {
			resp.Body.Close()
			return nil, err
		}
		return resp.Body, nil
	}
	resp.Body.Close()
	return nil, fmt.Errorf("registry %s answered %s to a range request for %s", req.URL.Host, resp.Status, req.URL.Path)
}

// rangeMatches says whether a 206's Content-Range is the rest of this
// blob: "bytes N-(total-1)/total".
func (rb *resumingBody) rangeMatches(cr string) bool {
	var first, last int64
	var size string
	if _, err := fmt.Sscanf(cr, "bytes %d-%d/%s", &first, &last, &size); err != nil {
		return false
	}
	if first != rb.read || last < first {
		return false
	}
	return rb.total < 0 || (last == rb.total-1 && (size == fmt.Sprint(rb.total) || size == "*"))
}

// resumable is a body that stopped partway for the network's or the
// registry's sake, not for its content.
func resumable(err error) bool {
	return errors.As(err, new(*StallError)) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// isBlobGet says whether r fetches a blob: a GET whose first request (the
// one redirects started from) names /blobs/<digest>.
func isBlobGet(r *http.Request) bool {
	first := r
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	p := first.URL.Path
	return r.Method == http.MethodGet && r.Header.Get("Range") == "" &&
		strings.Contains(p, "/blobs/") && !strings.Contains(p, "/blobs/uploads/")
}
