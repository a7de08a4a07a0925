package pull

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// blobServer serves blob in halves: the first GET sends half and then
// stalls or closes; later GETs answer as honorRange says.
func blobServer(t *testing.T, blob []byte, stall, honorRange bool, gets *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := gets.Add(1)
		if rg := r.Header.Get("Range"); rg != "" && honorRange {
			from, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(blob)-1, len(blob)))
			w.Header().Set("Content-Length", fmt.Sprint(len(blob)-from))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(blob[from:])
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
		if n > 1 && !honorRange && !stall {
			w.Write(blob) // a fresh whole copy
			return
		}
		w.Write(blob[:len(blob)/2])
		w.(http.Flusher).Flush()
		if !stall {
			panic(http.ErrAbortHandler)
		}
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
}

func getBlob(t *testing.T, url string) ([]byte, error) {
	c := &http.Client{Transport: &bounded{next: http.DefaultTransport, idle: 200 * time.Millisecond}}
	resp, err := c.Get(url + "/v2/r/blobs/sha256:0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func TestBlobResumes(t *testing.T) {
	blob := bytes.Repeat([]byte("0123456789"), 100000)
	for _, c := range []struct {
		name              string
		stall, honorRange bool
		gets              int32
	}{
		{"stall then 206", true, true, 2},
		{"cut then 206", false, true, 2},
		{"cut then 200", false, false, 2},
	} {
		var gets atomic.Int32
		srv := blobServer(t, blob, c.stall, c.honorRange, &gets)
		got, err := getBlob(t, srv.URL)
		srv.Close()
		if err != nil || !bytes.Equal(got, blob) {
			t.Errorf("%s: got %d bytes, %v; want the whole blob", c.name, len(got), err)
		}
		if gets.Load() != c.gets {
			t.Errorf("%s: %d requests, want %d", c.name, gets.Load(), c.gets)
		}
	}
}

func TestBlobStallsAfterRetries(t *testing.T) {
	var gets atomic.Int32
	srv := blobServer(t, bytes.Repeat([]byte("x"), 100000), true, false, &gets)
	defer srv.Close()
	c := &http.Client{Transport: &bounded{next: http.DefaultTransport, idle: 200 * time.Millisecond}}
	resp, err := c.Get(srv.URL + "/v2/r/blobs/sha256:0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	if !errors.As(err, new(*StallError)) {
		t.Errorf("want a StallError, got %v", err)
	}
	// What reads on (a digest check draining the blob) sees it too.
	if _, err := resp.Body.Read(make([]byte, 10)); !errors.As(err, new(*StallError)) {
		t.Errorf("a read after the retries: want a StallError, got %v", err)
	}
	if gets.Load() != 1+blobRetries {
		t.Errorf("%d requests, want %d", gets.Load(), 1+blobRetries)
	}
}
