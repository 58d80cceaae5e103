package record

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// Back-pressure for requests.jsonl. Lines are appended to an in-memory
// buffer that one goroutine writes out in batches, so Record never waits
// for the disk. If the disk falls so far behind that maxPending bytes are
// waiting, Record blocks for up to maxBlock for room; after that the line
// is dropped and counted (summary.json: requests_log_dropped, and a
// warning in the table). The aggregates (histograms, windows, summary)
// always include every result: only the per-request line can be lost, and
// never silently. windows.jsonl lines are rare and small, and are never
// dropped.
const (
	maxPending = 32 << 20
	maxBlock   = time.Second
)

// fileWriter owns requests.jsonl and windows.jsonl. Its methods are safe
// for concurrent use.
type fileWriter struct {
	reqF, winF *os.File
	pendingCap int           // maxPending; smaller in tests
	blockMax   time.Duration // maxBlock; shorter in tests

	mu       sync.Mutex
	req, win []byte        // pending, appended by Record
	waiters  int           // Records blocked for room
	room     chan struct{} // closed (and replaced) when pending is taken, if waiters > 0
	closing  bool
	dropped  int64 // request lines dropped after maxBlock
	err      error // first write error

	kick chan struct{} // cap 1: there is something to write
	done chan struct{} // closed when the loop has exited
}

func newFileWriter(reqPath, winPath string) (*fileWriter, error) {
	reqF, err := os.Create(reqPath)
	if err != nil {
		return nil, fmt.Errorf("record: creating %s: %w", reqPath, err)
	}
	winF, err := os.Create(winPath)
	if err != nil {
		reqF.Close()
		return nil, fmt.Errorf("record: creating %s: %w", winPath, err)
	}
	return startWriter(reqF, winF), nil
}

// startWriter starts the writing goroutine over two open files, which it
// closes in close.
func startWriter(reqF, winF *os.File) *fileWriter {
	w := &fileWriter{
		reqF: reqF, winF: winF,
		pendingCap: maxPending, blockMax: maxBlock,
		room: make(chan struct{}),
		kick: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	go w.loop()
	return w
}

// request queues one requests.jsonl line; it blocks only when the buffer
// is full (see maxPending).
func (w *fileWriter) request(line []byte) {
	w.mu.Lock()
	var timer *time.Timer
	for len(w.req) > 0 && len(w.req)+len(line) > w.pendingCap {
		if timer == nil {
			timer = time.NewTimer(w.blockMax)
			defer timer.Stop()
		}
		room := w.room
		w.waiters++
		w.mu.Unlock()
		var timedOut bool
		select {
		case <-room:
		case <-timer.C:
			timedOut = true
		}
		w.mu.Lock()
		w.waiters--
		if timedOut {
			w.dropped++
			w.mu.Unlock()
			return
		}
	}
	w.req = append(w.req, line...)
	w.mu.Unlock()
	w.wake()
}

// window queues one windows.jsonl line. It never blocks.
func (w *fileWriter) window(line []byte) {
	w.mu.Lock()
	w.win = append(w.win, line...)
	w.mu.Unlock()
	w.wake()
}

func (w *fileWriter) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *fileWriter) loop() {
	defer close(w.done)
	var req, win []byte // the batch being written; swapped with pending
	for range w.kick {
		for {
			w.mu.Lock()
			req, w.req = w.req, req[:0]
			win, w.win = w.win, win[:0]
			if w.waiters > 0 {
				close(w.room)
				w.room = make(chan struct{})
			}
			closing := w.closing
			w.mu.Unlock()
			if len(req) == 0 && len(win) == 0 {
				if closing {
					return
				}
				break
			}
			w.write(w.reqF, req)
			w.write(w.winF, win)
		}
	}
}

func (w *fileWriter) write(f *os.File, b []byte) {
	if len(b) == 0 {
		return
	}
	if _, err := f.Write(b); err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = fmt.Errorf("record: writing %s: %w", f.Name(), err)
		}
		w.mu.Unlock()
	}
}

// close writes everything pending, closes both files and returns the
// first error and the number of request lines dropped. No request or
// window call may run concurrently with or after close.
func (w *fileWriter) close() (dropped int64, err error) {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
	close(w.kick) // the loop drains what is pending, then exits
	<-w.done
	for _, f := range []*os.File{w.reqF, w.winF} {
		if cerr := f.Close(); cerr != nil && w.err == nil {
			w.err = fmt.Errorf("record: closing %s: %w", f.Name(), cerr)
		}
	}
	return w.dropped, w.err
}
