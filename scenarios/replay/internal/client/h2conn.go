package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/rpc"
)

// h2conn is one HTTP/2 connection of the load, on x/net's Framer (framing)
// and hpack (header compression). A stream's HEADERS and DATA are written
// on its user's goroutine under the write lock; its answer is gathered by
// the connection's one reader goroutine into the user's own buffers (the
// Call's), and the user is woken once, when the stream ends. Frames
// written by several users at once go out in one write: each writer
// leaves the flush to the next one waiting for the lock, and the last
// flushes.
//
// Our receive windows (a stream's and the connection's) are 1 GiB, so the
// server is never held back by this client; what the server sends past
// MaxAnswer of a body is read and dropped. The server's windows bound our
// DATA: a request body waits for window, and the wait is in its latency.
//
// Locks: wmu orders writes (the framer's write side and the HPACK
// encoder); mu guards the streams and the connection's state, and is never
// held across a write. The reader takes mu alone; the frames it needs
// written (a SETTINGS or PING acknowledgement, a WINDOW_UPDATE) are queued
// for the writer holding the lock, or written by the reader when none does
// (queue), so a reader never waits behind a writer.
type h2conn struct {
	nc   net.Conn
	bw   *bufio.Writer
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer

	wmu     sync.Mutex
	writers atomic.Int32 // writers holding or waiting for wmu
	nextID  uint32       // under wmu

	mu          sync.Mutex
	streams     map[uint32]*h2stream
	used        int // streams reserved or open
	maxStreams  int // the server's SETTINGS_MAX_CONCURRENT_STREAMS
	sendWindow  int64
	initWindow  int64              // the server's SETTINGS_INITIAL_WINDOW_SIZE
	maxFrame    int                // the server's SETTINGS_MAX_FRAME_SIZE
	goingAway   bool               // no new streams: a GOAWAY, or stream IDs ran out
	goAway      *http2.GoAwayError // the server's, if it sent one
	closed      bool
	err         error // the connection broke: its streams failed with it
	waiting     int   // writers waiting for send window
	windowed    chan struct{}
	queued      []func(*http2.Framer) // frames the reader needs written
	recvUnacked int64                 // DATA received since the connection's last WINDOW_UPDATE
}

// h2stream is one request's stream.
type h2stream struct {
	id          uint32 // 0 until its HEADERS are written
	call        *Call
	resp        Response
	done        chan struct{} // a token when it finished
	finished    bool          // the reader is done with it: err is why
	err         error
	sent        bool // its HEADERS went out
	halfClosed  bool // its END_STREAM went out
	reset       bool // the reader gave up on it: it is cancelled
	sendWindow  int64
	recvUnacked int64
}

const (
	h2RecvWindow     = 1 << 30
	h2DefaultStreams = 1000 // a server that sets no limit gets as many as x/net gives it
	h2Buffer         = 16 << 10
	h2LastStreamID   = 1<<31 - 1
)

// openH2 starts HTTP/2 on nc: the preface and SETTINGS both ways, until
// deadline, then the reader.
func openH2(nc net.Conn, deadline time.Time) (*h2conn, error) {
	cc := &h2conn{nc: nc, bw: bufio.NewWriterSize(nc, h2Buffer), nextID: 1, streams: map[uint32]*h2stream{},
		maxStreams: h2DefaultStreams, sendWindow: 65535, initWindow: 65535, maxFrame: 16384, windowed: make(chan struct{})}
	cc.fr = http2.NewFramer(cc.bw, bufio.NewReaderSize(nc, h2Buffer))
	cc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	cc.fr.MaxHeaderListSize = MaxHeaders
	cc.fr.SetReuseFrames()
	cc.enc = hpack.NewEncoder(&cc.hbuf)
	nc.SetDeadline(deadline)
	if err := cc.greet(); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	go cc.readLoop()
	return cc, nil
}

// greet sends the preface, our SETTINGS and window, and reads the
// server's SETTINGS (its first frame), so that streams are bounded by its
// limit from the first one.
func (cc *h2conn) greet() error {
	cc.bw.WriteString(http2.ClientPreface)
	cc.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2RecvWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: MaxHeaders},
	)
	cc.fr.WriteWindowUpdate(0, h2RecvWindow-65535)
	if err := cc.bw.Flush(); err != nil {
		return err
	}
	f, err := cc.fr.ReadFrame()
	if err != nil {
		return err
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		return ProtocolError{fmt.Sprintf("the server's first HTTP/2 frame is %v, not SETTINGS", f.Header().Type)}
	}
	table, err := cc.settings(sf)
	if err != nil {
		return err
	}
	cc.ackSettings(table)
	return cc.bw.Flush()
}

// settings applies the server's SETTINGS; table is the HPACK table size it
// asks for, or -1.
func (cc *h2conn) settings(sf *http2.SettingsFrame) (table int64, err error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	table = -1
	err = sf.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			cc.maxStreams = int(min(s.Val, h2DefaultStreams))
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - cc.initWindow
			cc.initWindow = int64(s.Val)
			for _, st := range cc.streams {
				st.sendWindow += delta
			}
			cc.windowGrew()
		case http2.SettingMaxFrameSize:
			cc.maxFrame = int(s.Val)
		case http2.SettingHeaderTableSize:
			table = int64(s.Val)
		}
		return nil
	})
	return table, err
}

// ackSettings acknowledges the server's SETTINGS, the encoder's table
// bounded first by the size it asked (under wmu).
func (cc *h2conn) ackSettings(table int64) {
	if table >= 0 {
		cc.enc.SetMaxDynamicTableSizeLimit(uint32(table))
	}
	cc.fr.WriteSettingsAck()
}

// lockWrite takes the write lock, counted so that the writer before
// leaves the flush to this one.
func (cc *h2conn) lockWrite() {
	cc.writers.Add(1)
	cc.wmu.Lock()
}

// unlockWrite writes the frames the reader queued, flushes unless
// another writer waits (it flushes for both), and lets the lock go; then
// it writes what the reader queued meanwhile, if the lock is free.
func (cc *h2conn) unlockWrite() error {
	cc.writeQueued()
	var err error
	if cc.writers.Add(-1) == 0 {
		err = cc.bw.Flush()
	}
	cc.wmu.Unlock()
	cc.flushQueued()
	return err
}

// queue has a frame the reader needs written (an acknowledgement, a
// window) go out with the next flush: the writer holding the lock writes
// it before it lets go, and with none the reader writes it at once. Either
// the reader finds the lock free, or its holder, letting go after the
// frame was queued, finds it queued. (The reader never waits for the lock;
// it may wait for the socket, as any writer does, for a frame of a few
// bytes. An acknowledgement per PING was a goroutine per PING, and grpc-go
// servers send about one per call.)
func (cc *h2conn) queue(write func(*http2.Framer)) {
	cc.mu.Lock()
	cc.queued = append(cc.queued, write)
	cc.mu.Unlock()
	cc.flushQueued()
}

// flushQueued writes the queued frames if no writer holds the lock.
func (cc *h2conn) flushQueued() {
	for {
		cc.mu.Lock()
		none := len(cc.queued) == 0
		cc.mu.Unlock()
		if none || !cc.wmu.TryLock() {
			return
		}
		cc.writers.Add(1)
		if cc.unlockWrite() != nil {
			cc.nc.Close() // the reader fails the streams
			return
		}
	}
}

// writeQueued writes the queued frames (under wmu).
func (cc *h2conn) writeQueued() {
	cc.mu.Lock()
	queued := cc.queued
	cc.queued = nil
	cc.mu.Unlock()
	for _, write := range queued {
		write(cc.fr)
	}
}

// roundTrip sends r on a new stream (a stream of cc is reserved for it)
// and waits for its answer, read into call's buffers.
func (cc *h2conn) roundTrip(r *h2req, call *Call, w waits) (Response, error) {
	st := &h2stream{call: call, done: make(chan struct{}, 1)}
	st.resp.Body, st.resp.Head = call.Body[:0], call.Head[:0]
	err := cc.write(st, r, w)
	if err == nil {
		err = w.wait(st.done)
	}
	return cc.end(st, err)
}

// write sends the stream's HEADERS and its body's DATA as the server's
// windows let it, waiting for window (without the write lock) when it
// runs out. The body stops early when the stream has ended.
func (cc *h2conn) write(st *h2stream, r *h2req, w waits) error {
	cc.lockWrite()
	err := cc.writeHeaders(st, r)
	for body := r.body; err == nil && len(body) > 0; {
		n, stop := cc.takeWindow(st, len(body))
		if stop {
			break
		}
		if n == 0 {
			if err = cc.unlockWrite(); err == nil {
				err = cc.awaitWindow(st, w)
			}
			cc.lockWrite()
			continue
		}
		err = cc.fr.WriteData(st.id, n == len(body), body[:n])
		body = body[n:]
		st.halfClosed = len(body) == 0
	}
	if ferr := cc.unlockWrite(); err == nil {
		err = ferr
	}
	if err != nil && !errors.Is(err, errUnprocessed) && !IsTimeout(err) && !errors.Is(err, ErrCut) {
		cc.nc.Close() // a write failed: the connection is broken for every stream
	}
	return err
}

// writeHeaders registers the stream under the next ID and writes its
// header block (HEADERS, then CONTINUATION past the server's frame size).
func (cc *h2conn) writeHeaders(st *h2stream, r *h2req) error {
	cc.mu.Lock()
	if cc.nextID > h2LastStreamID {
		cc.goingAway = true
	}
	if cc.err != nil || cc.goingAway || cc.closed {
		cc.mu.Unlock()
		return errUnprocessed
	}
	st.id = cc.nextID
	cc.nextID += 2
	st.sendWindow = cc.initWindow
	cc.streams[st.id] = st
	maxFrame := cc.maxFrame
	cc.mu.Unlock()
	cc.hbuf.Reset()
	for _, f := range r.fields {
		cc.enc.WriteField(f)
	}
	block, end := cc.hbuf.Bytes(), len(r.body) == 0
	for first := true; first || len(block) > 0; first = false {
		chunk := block[:min(len(block), maxFrame)]
		block = block[len(chunk):]
		var err error
		if first {
			err = cc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id, BlockFragment: chunk, EndStream: end, EndHeaders: len(block) == 0})
		} else {
			err = cc.fr.WriteContinuation(st.id, len(block) == 0, chunk)
		}
		if err != nil {
			return err
		}
	}
	st.sent, st.halfClosed = true, end
	return nil
}

// takeWindow takes up to want bytes (a frame's worth at most) of the
// connection's and the stream's send windows; stop when the stream ended
// and its body is no longer wanted.
func (cc *h2conn) takeWindow(st *h2stream, want int) (n int, stop bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if st.finished {
		return 0, true
	}
	m := min(int64(want), int64(cc.maxFrame), cc.sendWindow, st.sendWindow)
	if m <= 0 {
		return 0, false
	}
	cc.sendWindow -= m
	st.sendWindow -= m
	return int(m), false
}

// awaitWindow waits for the server to grow a send window (or for the
// stream or the connection to end).
func (cc *h2conn) awaitWindow(st *h2stream, w waits) error {
	cc.mu.Lock()
	if cc.err != nil {
		defer cc.mu.Unlock()
		return cc.err
	}
	if st.finished || cc.sendWindow > 0 && st.sendWindow > 0 {
		cc.mu.Unlock()
		return nil
	}
	cc.waiting++
	ch := cc.windowed
	cc.mu.Unlock()
	err := w.wait(ch)
	cc.mu.Lock()
	cc.waiting--
	cc.mu.Unlock()
	return err
}

// windowGrew wakes the writers waiting for window, to look again (under mu).
func (cc *h2conn) windowGrew() {
	if cc.waiting > 0 {
		close(cc.windowed)
		cc.windowed = make(chan struct{})
	}
}

// end takes the stream's answer once the reader is done with it: as it
// finished, if it did; else err, and the stream is cancelled
// (RST_STREAM) if it went out.
func (cc *h2conn) end(st *h2stream, err error) (Response, error) {
	cc.mu.Lock()
	if st.finished {
		err = st.err
	} else if st.id != 0 {
		delete(cc.streams, st.id)
	}
	cancel := st.sent && (!st.finished || st.err == nil && !st.halfClosed) || st.reset
	usable := cc.err == nil && !cc.closed
	cc.mu.Unlock()
	if cancel && usable {
		cc.lockWrite()
		cc.fr.WriteRSTStream(st.id, http2.ErrCodeCancel)
		cc.unlockWrite()
	}
	st.resp.Keep = true
	return st.resp, err
}

// reserve takes a stream, if one is free under the server's limit.
func (cc *h2conn) reserve() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.err != nil || cc.goingAway || cc.closed || cc.used >= cc.maxStreams {
		return false
	}
	cc.used++
	return true
}

// release gives a stream back; true when the connection has no use left
// (it is going away or broken, and idle).
func (cc *h2conn) release() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.used--
	return (cc.err != nil || cc.goingAway) && cc.used == 0
}

// spent says the connection takes no more streams and may be closed.
func (cc *h2conn) spent() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.err != nil || cc.closed || cc.goingAway && cc.used == 0
}

func (cc *h2conn) streamLimit() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.maxStreams
}

func (cc *h2conn) close() {
	cc.mu.Lock()
	cc.closed = true
	cc.mu.Unlock()
	cc.nc.Close()
}

// readLoop reads the server's frames until the connection ends.
func (cc *h2conn) readLoop() {
	for {
		f, err := cc.fr.ReadFrame()
		var se http2.StreamError
		if errors.As(err, &se) { // one stream's frame was malformed: that stream fails
			cc.mu.Lock()
			if st := cc.streams[se.StreamID]; st != nil {
				st.reset = true
				cc.finish(st, se)
			}
			cc.mu.Unlock()
			continue
		}
		if err == nil {
			err = cc.handle(f)
		}
		if err != nil {
			cc.fail(err)
			return
		}
	}
}

func (cc *h2conn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		cc.headers(f)
	case *http2.DataFrame:
		cc.data(f)
	case *http2.RSTStreamFrame:
		cc.mu.Lock()
		if st := cc.streams[f.StreamID]; st != nil {
			cc.finish(st, http2.StreamError{StreamID: f.StreamID, Code: f.ErrCode})
		}
		cc.mu.Unlock()
	case *http2.SettingsFrame:
		if !f.IsAck() {
			table, err := cc.settings(f)
			if err != nil {
				return err
			}
			cc.queue(func(*http2.Framer) { cc.ackSettings(table) })
		}
	case *http2.PingFrame:
		if !f.IsAck() {
			data := f.Data
			cc.queue(func(fr *http2.Framer) { fr.WritePing(true, data) })
		}
	case *http2.GoAwayFrame:
		cc.goneAway(f)
	case *http2.WindowUpdateFrame:
		cc.mu.Lock()
		if f.StreamID == 0 {
			cc.sendWindow += int64(f.Increment)
		} else if st := cc.streams[f.StreamID]; st != nil {
			st.sendWindow += int64(f.Increment)
		}
		cc.windowGrew()
		cc.mu.Unlock()
	}
	return nil
}

// headers takes a stream's answer head (informational ones skipped) or
// its trailers, into the Call's head buffer.
func (cc *h2conn) headers(f *http2.MetaHeadersFrame) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	st := cc.streams[f.StreamID]
	if st == nil {
		return
	}
	if f.Truncated {
		st.reset = true
		cc.finish(st, ProtocolError{"an HTTP/2 header block over " + strconv.Itoa(MaxHeaders) + " bytes"})
		return
	}
	if !st.resp.Answered {
		status := f.PseudoValue("status")
		code, err := strconv.Atoi(status)
		if err != nil || code < 100 || code > 999 {
			st.reset = true
			cc.finish(st, malformed("status", []byte(status), 10))
			return
		}
		if code < 200 && !f.StreamEnded() {
			return // informational: the final answer follows
		}
		st.resp.Status, st.resp.Answered = code, true
		st.resp.Head = keepHead(st.resp.Head, []byte("HTTP/2.0 "+status+" "+http.StatusText(code)))
	}
	for _, hf := range f.RegularFields() { // (a trailer, too: a call's grpc-status)
		st.resp.Head = keepField(st.resp.Head, hf.Name, hf.Value)
	}
	if f.StreamEnded() {
		cc.finish(st, nil)
	}
}

// data takes a stream's body, its first MaxAnswer bytes kept, and gives
// the server back window as ours runs half out.
func (cc *h2conn) data(f *http2.DataFrame) {
	n := int64(f.Length) // (padding counts against the window too)
	cc.mu.Lock()
	var conn, stream uint32
	if cc.recvUnacked += n; cc.recvUnacked >= h2RecvWindow/2 {
		conn, cc.recvUnacked = uint32(cc.recvUnacked), 0
	}
	st := cc.streams[f.StreamID]
	if st != nil && !st.resp.Answered { // DATA before its HEADERS
		st.reset = true
		cc.finish(st, ProtocolError{"HTTP/2 DATA before the answer's HEADERS"})
	} else if st != nil {
		st.take(f.Data())
		if f.StreamEnded() {
			cc.finish(st, nil)
		} else if st.recvUnacked += n; st.recvUnacked >= h2RecvWindow/2 {
			stream, st.recvUnacked = uint32(st.recvUnacked), 0
		}
	}
	cc.mu.Unlock()
	if conn > 0 || stream > 0 {
		id := f.StreamID
		cc.queue(func(fr *http2.Framer) {
			if conn > 0 {
				fr.WriteWindowUpdate(0, conn)
			}
			if stream > 0 {
				fr.WriteWindowUpdate(id, stream)
			}
		})
	}
}

// take keeps what fits of data in the answer's body; for a call, it notes
// when the first length-prefixed message is all in.
func (st *h2stream) take(data []byte) {
	if room := MaxAnswer - len(st.resp.Body); room > 0 {
		st.resp.Body = append(st.resp.Body, data[:min(len(data), room)]...)
	}
	if st.call.Framed && st.resp.FirstAt.IsZero() {
		if _, ok := rpc.FrameSize(st.resp.Body); ok {
			st.resp.FirstAt = time.Now()
		}
	}
}

// goneAway: the server takes no new streams; those after its last one are
// unprocessed (they may go out again elsewhere), those before it go on.
func (cc *h2conn) goneAway(f *http2.GoAwayFrame) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.goingAway = true
	cc.goAway = &http2.GoAwayError{LastStreamID: f.LastStreamID, ErrCode: f.ErrCode, DebugData: string(f.DebugData())}
	for id, st := range cc.streams {
		if id > f.LastStreamID {
			cc.finish(st, errUnprocessed)
		}
	}
}

// finish ends a stream for the reader and wakes its user (under mu).
func (cc *h2conn) finish(st *h2stream, err error) {
	delete(cc.streams, st.id)
	st.finished, st.err = true, err
	st.done <- struct{}{}
	cc.windowGrew() // a writer waiting for window may be this stream's: its body is no longer wanted
}

// fail ends the connection: every open stream fails with err, or with the
// GOAWAY that came before the connection closed.
func (cc *h2conn) fail(err error) {
	cc.mu.Lock()
	if cc.goAway != nil && cc.err == nil {
		err = *cc.goAway
	}
	if cc.err == nil {
		cc.err = err
	}
	for _, st := range cc.streams {
		cc.finish(st, cc.err)
	}
	cc.windowGrew()
	cc.mu.Unlock()
	cc.nc.Close()
}

// keepField appends a header field to a failure sample's head as
// "name: value", within its bound.
func keepField(head []byte, name, value string) []byte {
	if len(head)+len(name)+len(value)+3 > results.MaxSampleHeaders {
		return head
	}
	head = append(head, name...)
	head = append(head, ": "...)
	head = append(head, value...)
	return append(head, '\n')
}
