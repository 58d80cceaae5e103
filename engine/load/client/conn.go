package client

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// conn is the net.Conn the fasthttp pool holds. It exists so that the
// request running on it can
//
//   - dial lazily, on the first write of its first request, with that
//     request's context and deadline: fasthttp's Dial has neither, so a
//     cancelled run would otherwise wait out a hanging TCP or TLS connect;
//   - be closed from another goroutine when the request's context ends
//     (interrupt), which unblocks any read or write at once;
//   - enforce the stall timeout per read: every read that returns bytes
//     moves the read deadline to now+stall (capped by the whole-request
//     deadline), and a deadline that fires says which of the two it was;
//   - count application bytes and stamp the time of the last read, which is
//     the arrival time of every event completed by that read, so the client
//     reads the clock once per read rather than per event or byte.
//
// Between interrupt and everything else a conn is used by one goroutine at
// a time: the pool hands it to one request, and that request's goroutine
// does all reads, writes and the dial.
type conn struct {
	net.Conn // nil until dialed

	addr        string
	tlsConfig   *tls.Config // nil for plain HTTP
	dialTimeout time.Duration

	mu          sync.Mutex // guards Conn against interrupt racing the dial
	interrupted bool

	uses int // requests begun on this connection

	// Per request, set by begin.
	ctx      context.Context
	deadline time.Time // whole-request deadline, zero for none
	stall    time.Duration
	readKind request.ErrorClass // what the current read deadline stands for
	expired  request.ErrorClass // set when a deadline fired
	lastRead time.Time
	nRead    int64
	nWritten int64
}

// dialError marks a failure to connect, as opposed to one on an
// established connection.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

var errInterrupted = errors.New("connection closed: request canceled")

// Handshake exists so that fasthttp, which wraps any conn without this
// method in TLS when the URL is https, leaves TLS to dial.
func (c *conn) Handshake() error { return nil }

// begin prepares the connection for one request.
func (c *conn) begin(ctx context.Context, deadline time.Time, stall time.Duration) {
	c.uses++
	c.ctx, c.deadline, c.stall = ctx, deadline, stall
	c.expired = request.OK
	c.lastRead = time.Time{}
	c.nRead, c.nWritten = 0, 0
	if c.Conn != nil {
		c.armRead(time.Now())
		_ = c.Conn.SetWriteDeadline(c.deadline)
	}
}

// idle clears per-request state before the connection goes back to the
// pool, so an idle connection has no deadline and holds no context.
func (c *conn) idle() {
	c.ctx = nil
	if c.Conn != nil {
		_ = c.Conn.SetDeadline(time.Time{})
	}
}

// limitReads replaces the stall rule by a fixed deadline (used to drain the
// end of a finished stream).
func (c *conn) limitReads(d time.Time) {
	c.stall = 0
	if c.deadline.IsZero() || d.Before(c.deadline) {
		c.deadline = d
	}
	c.readKind = errDrain
	if c.Conn != nil {
		_ = c.Conn.SetReadDeadline(c.deadline)
	}
}

// errDrain is the pseudo error class of a deadline that only bounds the
// drain after [DONE]; it never reaches a Result.
const errDrain request.ErrorClass = "drain"

// armRead sets the read deadline for the next read, given the time now.
func (c *conn) armRead(now time.Time) {
	d, kind := c.deadline, request.ErrTimeout
	if c.stall > 0 {
		if s := now.Add(c.stall); d.IsZero() || s.Before(d) {
			d, kind = s, request.ErrStall
		}
	}
	c.readKind = kind
	_ = c.Conn.SetReadDeadline(d)
}

func (c *conn) Read(p []byte) (int, error) {
	if c.Conn == nil {
		return 0, errors.New("read before the connection was dialed")
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		now := time.Now()
		c.lastRead = now
		c.nRead += int64(n)
		if c.stall > 0 {
			c.armRead(now)
		}
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.expired = c.readKind
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	if c.Conn == nil {
		if err := c.dial(); err != nil {
			return 0, err
		}
	}
	kind := request.ErrTimeout
	if c.stall > 0 {
		// A server that stops reading the request is as stuck as one that
		// stops sending: give each write the stall budget too.
		d := time.Now().Add(c.stall)
		if c.deadline.IsZero() || d.Before(c.deadline) {
			kind = request.ErrStall
		} else {
			d = c.deadline
		}
		_ = c.Conn.SetWriteDeadline(d)
	}
	n, err := c.Conn.Write(p)
	c.nWritten += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.expired = kind
	}
	return n, err
}

func (c *conn) dial() error {
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	d := net.Dialer{Timeout: c.dialTimeout, Deadline: c.deadline, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err == nil && c.tlsConfig != nil {
		tc := tls.Client(nc, c.tlsConfig)
		hd := time.Now().Add(c.dialTimeout)
		if !c.deadline.IsZero() && c.deadline.Before(hd) {
			hd = c.deadline
		}
		_ = nc.SetDeadline(hd)
		if err = tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
		} else {
			_ = nc.SetDeadline(time.Time{})
			nc = tc
		}
	}
	if err != nil {
		if !c.deadline.IsZero() && !time.Now().Before(c.deadline) {
			c.expired = request.ErrTimeout
		}
		return &dialError{err}
	}
	c.mu.Lock()
	if c.interrupted {
		c.mu.Unlock()
		_ = nc.Close()
		return errInterrupted
	}
	c.Conn = nc
	c.mu.Unlock()
	c.armRead(time.Now())
	_ = nc.SetWriteDeadline(c.deadline)
	return nil
}

// interrupt closes the connection from any goroutine, or makes a dial in
// progress close what it gets.
func (c *conn) interrupt() {
	c.mu.Lock()
	c.interrupted = true
	nc := c.Conn
	c.mu.Unlock()
	if nc != nil {
		_ = nc.Close()
	}
}

func (c *conn) Close() error {
	c.mu.Lock()
	nc := c.Conn
	c.mu.Unlock()
	if nc == nil {
		return nil
	}
	return nc.Close()
}

func (c *conn) LocalAddr() net.Addr {
	if c.Conn == nil {
		return nil
	}
	return c.Conn.LocalAddr()
}

func (c *conn) RemoteAddr() net.Addr {
	if c.Conn == nil {
		return nil
	}
	return c.Conn.RemoteAddr()
}

func (c *conn) SetDeadline(t time.Time) error {
	if c.Conn == nil {
		return nil
	}
	return c.Conn.SetDeadline(t)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	if c.Conn == nil {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	if c.Conn == nil {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}
