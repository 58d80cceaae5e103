package record

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A disk that stops accepting writes (a pipe nobody reads) fills the
// pending buffer; Record then waits blockMax and drops the line, counting
// it. Once the disk recovers, everything accepted is written.
func TestWriterCountsLinesItCannotKeep(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	winF, err := os.Create(filepath.Join(t.TempDir(), "w"))
	if err != nil {
		t.Fatal(err)
	}
	w := startWriter(pw, winF)
	w.pendingCap, w.blockMax = 4096, 2*time.Millisecond

	// Far more than a pipe buffer (64 KiB on Linux) plus pendingCap.
	const n, size = 1200, 100
	start := time.Now()
	for i := range n {
		num := strconv.Itoa(i)
		w.request([]byte(num + strings.Repeat("x", size-1-len(num)) + "\n"))
	}
	blocked := time.Since(start)

	var got int
	read := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if len(sc.Bytes()) != size-1 {
				read <- io.ErrUnexpectedEOF
				return
			}
			got++
		}
		read <- sc.Err()
	}()
	dropped, err := w.close()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatalf("reading back: %v", err)
	}
	if dropped == 0 {
		t.Fatalf("nothing dropped although the disk never drained (blocked %v)", blocked)
	}
	if int64(got)+dropped != n {
		t.Errorf("written %d + dropped %d != %d submitted", got, dropped, n)
	}
	// Each drop costs at most about blockMax of waiting.
	if limit := time.Duration(dropped)*w.blockMax + 2*time.Second; blocked > limit {
		t.Errorf("submitting took %v for %d drops", blocked, dropped)
	}
}
