package check

import (
	"bytes"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"strconv"
	"sync"
)

// The HTTP_GET / SSL_GET exchange is one GET on a fresh connection that the server closes:
// the request is built once per url, and the response is parsed with one pooled 4 KiB buffer
// (no net/http client, no header map, no goroutine of its own).

// maxHeaderBytes bounds a response's status line and headers together.
const maxHeaderBytes = 1 << 20

var wireBufPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// buildRequest is the GET keepalived sends: request line with http_protocol, User-Agent, Host
// from virtualhost or connect_ip:connect_port, Connection: close for 1.0C and 1.1.
func buildRequest(c Common, h *HTTPSpec, u URL) []byte {
	host := u.VirtualHost
	if host == "" {
		host = h.VirtualHost
	}
	if host == "" {
		host = net.JoinHostPort(c.ConnectIP.String(), strconv.Itoa(int(c.ConnectPort)))
		if c.ConnectIP.Is4() {
			host = c.ConnectIP.String() + ":" + strconv.Itoa(int(c.ConnectPort))
		}
	}
	proto := "HTTP/1.0"
	closeHdr := ""
	switch h.Protocol {
	case "1.1":
		proto, closeHdr = "HTTP/1.1", "Connection: close\r\n"
	case "1.0C":
		closeHdr = "Connection: close\r\n"
	}
	return []byte("GET " + u.Path + " " + proto + "\r\nUser-Agent: KeepAliveClient\r\nHost: " + host + "\r\n" + closeHdr + "\r\n")
}

// wireReader reads one HTTP response from r through buf.
type wireReader struct {
	r          io.Reader
	buf        []byte
	start, end int
	err        error // sticky read error
}

// fill reads more into the buffer, moving unread bytes to its front first.
func (w *wireReader) fill() error {
	if w.err != nil {
		return w.err
	}
	if w.start > 0 {
		w.end = copy(w.buf, w.buf[w.start:w.end])
		w.start = 0
	}
	if w.end == len(w.buf) {
		return nil
	}
	n, err := w.r.Read(w.buf[w.end:])
	w.end += n
	if err != nil {
		w.err = err
		if n > 0 {
			return nil
		}
	}
	return err
}

// line returns the next line without its CR LF. A line longer than the buffer comes back
// truncated to the buffer (its rest is skipped); budget counts the bytes consumed.
func (w *wireReader) line(budget *int) ([]byte, error) {
	for {
		if i := bytes.IndexByte(w.buf[w.start:w.end], '\n'); i >= 0 {
			l := w.buf[w.start : w.start+i]
			w.start += i + 1
			*budget -= i + 1
			if *budget < 0 {
				return nil, errors.New("response headers too long")
			}
			return bytes.TrimSuffix(l, []byte{'\r'}), nil
		}
		if w.start == 0 && w.end == len(w.buf) {
			// Longer than the buffer: keep its head, skip to the end of the line.
			head := append([]byte(nil), w.buf[:min(len(w.buf), 256)]...)
			for {
				*budget -= w.end - w.start
				w.start, w.end = 0, 0
				if *budget < 0 {
					return nil, errors.New("response headers too long")
				}
				if err := w.fill(); err != nil {
					return nil, eofUnexpected(err)
				}
				if i := bytes.IndexByte(w.buf[:w.end], '\n'); i >= 0 {
					w.start = i + 1
					*budget -= i + 1
					return head, nil
				}
			}
		}
		if err := w.fill(); err != nil {
			return nil, eofUnexpected(err)
		}
	}
}

func eofUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// respHead is what the status line and headers say about the body.
type respHead struct {
	status  int
	length  int64 // -1: unknown (until EOF or chunked)
	chunked bool
}

// readHead parses the status line and the headers (Content-Length, Transfer-Encoding).
func (w *wireReader) readHead() (respHead, error) {
	budget := maxHeaderBytes
	l, err := w.line(&budget)
	if err != nil {
		return respHead{}, err
	}
	h := respHead{length: -1}
	var minor11 bool
	if h.status, minor11, err = parseStatusLine(l); err != nil {
		return respHead{}, err
	}
	var te []byte
	haveCL := false
	for {
		l, err := w.line(&budget)
		if err != nil {
			return respHead{}, err
		}
		if len(l) == 0 {
			break
		}
		if l[0] == ' ' || l[0] == '\t' { // obsolete line folding: continues the previous header
			continue
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			return respHead{}, fmt.Errorf("malformed header line %q", l)
		}
		name, val := l[:colon], bytes.TrimSpace(l[colon+1:])
		switch {
		case asciiEqualFold(name, "content-length"):
			n, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil || n < 0 {
				return respHead{}, fmt.Errorf("bad Content-Length %q", val)
			}
			if haveCL && n != h.length {
				return respHead{}, errors.New("conflicting Content-Length headers")
			}
			h.length, haveCL = n, true
		case asciiEqualFold(name, "transfer-encoding"):
			te = append(te[:0], val...)
		}
	}
	// As net/http: Transfer-Encoding counts from HTTP/1.1 on, and only "chunked" is known.
	if te != nil && minor11 {
		if !asciiEqualFold(te, "chunked") {
			return respHead{}, fmt.Errorf("unsupported transfer encoding %q", te)
		}
		h.chunked, h.length = true, -1
	}
	if (h.status >= 100 && h.status < 200) || h.status == 204 || h.status == 304 {
		h.chunked, h.length = false, 0
	}
	return h, nil
}

// parseStatusLine reads "HTTP/x.y NNN reason"; atLeast11 says the version is 1.1 or later.
func parseStatusLine(l []byte) (code int, atLeast11 bool, err error) {
	bad := func() (int, bool, error) { return 0, false, fmt.Errorf("malformed HTTP response %q", l) }
	if !bytes.HasPrefix(l, []byte("HTTP/")) {
		return bad()
	}
	sp := bytes.IndexByte(l, ' ')
	if sp < 0 {
		return bad()
	}
	ver := l[5:sp]
	dot := bytes.IndexByte(ver, '.')
	if dot < 1 || dot == len(ver)-1 {
		return bad()
	}
	major, err1 := strconv.Atoi(string(ver[:dot]))
	minor, err2 := strconv.Atoi(string(ver[dot+1:]))
	if err1 != nil || err2 != nil || major < 0 || minor < 0 {
		return bad()
	}
	rest := l[sp+1:]
	if len(rest) < 3 || (len(rest) > 3 && rest[3] != ' ') {
		return bad()
	}
	for _, c := range rest[:3] {
		if c < '0' || c > '9' {
			return bad()
		}
		code = code*10 + int(c-'0')
	}
	return code, major > 1 || (major == 1 && minor >= 1), nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// bodySink receives up to maxBody bytes of the body: the MD5 (when a digest is wanted) and a
// copy (when a regex needs it). With neither, the body is read and dropped.
type bodySink struct {
	sum  hash.Hash
	keep *bytes.Buffer
	n    int64
}

func (s *bodySink) write(p []byte) {
	if room := maxBody - s.n; int64(len(p)) > room {
		p = p[:room]
	}
	s.n += int64(len(p))
	if s.sum != nil {
		s.sum.Write(p)
	}
	if s.keep != nil {
		s.keep.Write(p)
	}
}

func (s *bodySink) full() bool { return s.n >= maxBody }

// readBody streams the body into sink; it stops, without error, after maxBody bytes.
func (w *wireReader) readBody(h respHead, sink *bodySink) error {
	switch {
	case h.chunked:
		return w.readChunked(sink)
	case h.length >= 0:
		if err := w.copyN(h.length, sink); err != nil {
			return eofUnexpected(err)
		}
		return nil
	}
	for !sink.full() { // until the server closes
		if w.start < w.end {
			sink.write(w.buf[w.start:w.end])
			w.start = w.end
			continue
		}
		w.start, w.end = 0, 0
		if err := w.fill(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
	return nil
}

// copyN moves n body bytes into sink (fewer if the sink fills up).
func (w *wireReader) copyN(n int64, sink *bodySink) error {
	for n > 0 && !sink.full() {
		if w.start == w.end {
			w.start, w.end = 0, 0
			if err := w.fill(); err != nil {
				return err
			}
			continue
		}
		k := int64(w.end - w.start)
		if k > n {
			k = n
		}
		sink.write(w.buf[w.start : w.start+int(k)])
		w.start += int(k)
		n -= k
	}
	return nil
}

// readChunked decodes a chunked body (chunk extensions and trailers are skipped).
func (w *wireReader) readChunked(sink *bodySink) error {
	budget := maxHeaderBytes
	for !sink.full() {
		l, err := w.line(&budget)
		if err != nil {
			return eofUnexpected(err)
		}
		if i := bytes.IndexByte(l, ';'); i >= 0 {
			l = l[:i]
		}
		l = bytes.TrimSpace(l)
		size, err := strconv.ParseUint(string(l), 16, 63)
		if err != nil || len(l) == 0 {
			return fmt.Errorf("malformed chunk size %q", l)
		}
		if size == 0 {
			for { // trailers, up to the empty line
				t, err := w.line(&budget)
				if err != nil {
					return eofUnexpected(err)
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if err := w.copyN(int64(size), sink); err != nil {
			return eofUnexpected(err)
		}
		if sink.full() {
			return nil
		}
		if crlf, err := w.line(&budget); err != nil {
			return eofUnexpected(err)
		} else if len(crlf) != 0 {
			return errors.New("malformed chunked encoding: no CRLF after chunk data")
		}
	}
	return nil
}
