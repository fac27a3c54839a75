package check

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// readWire parses resp as fetch does, with a small buffer so that lines and bodies cross it.
func readWire(resp string, bufSize int) (respHead, string, error) {
	w := wireReader{r: strings.NewReader(resp), buf: make([]byte, bufSize)}
	h, err := w.readHead()
	if err != nil {
		return h, "", err
	}
	sink := bodySink{sum: md5.New()}
	err = w.readBody(h, &sink)
	return h, hex.EncodeToString(sink.sum.Sum(nil)), err
}

func TestWireResponses(t *testing.T) {
	long := strings.Repeat("x", 10000)
	cases := []struct {
		name, resp string
		status     int
		body       string
		err        string // substring; "" = no error
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", 200, "hello", ""},
		{"until close", "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nhello world", 200, "hello world", ""},
		{"chunked with extension and trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 3\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n", 200, "hello world", ""},
		{"chunked ignored in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello", 200, "5\r\nhello", ""},
		{"bare LF lines", "HTTP/1.1 404 Not Found\nContent-Length: 2\n\nno", 404, "no", ""},
		{"204 has no body", "HTTP/1.1 204 No Content\r\n\r\nignored", 204, "", ""},
		{"long header line skipped", "HTTP/1.1 200 OK\r\nSet-Cookie: " + long + "\r\nContent-Length: 2\r\n\r\nok", 200, "ok", ""},
		{"folded header", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\nContent-Length: 2\r\n\r\nok", 200, "ok", ""},
		{"no reason phrase", "HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n", 503, "", ""},
		{"short content-length body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", 200, "", "unexpected EOF"},
		{"truncated chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 200, "", "unexpected EOF"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200, "", "malformed chunk size"},
		{"unknown transfer encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, "", "unsupported transfer encoding"},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 0, "", "conflicting"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, "", "Content-Length"},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", 0, "", "malformed HTTP response"},
		{"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", 0, "", "malformed HTTP response"},
		{"header without colon", "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", 0, "", "malformed header"},
		{"closed in headers", "HTTP/1.1 200 OK\r\nContent-Le", 0, "", "unexpected EOF"},
		{"empty", "", 0, "", "unexpected EOF"},
	}
	for _, c := range cases {
		for _, size := range []int{48, 64, 4096} {
			h, digest, err := readWire(c.resp, size)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("%s (buffer %d): error %v, want %q", c.name, size, err, c.err)
				}
				continue
			}
			if err != nil || h.status != c.status || digest != md5hex(c.body) {
				t.Errorf("%s (buffer %d): status %d digest %s err %v, want %d and the MD5 of %q", c.name, size, h.status, digest, err, c.status, c.body)
			}
		}
	}
}

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A body is read (and hashed) up to maxBody bytes, then the check stops without error.
func TestWireBodyLimit(t *testing.T) {
	r := io.MultiReader(strings.NewReader("HTTP/1.0 200 OK\r\n\r\n"), zeros{})
	w := wireReader{r: r, buf: make([]byte, 4096)}
	h, err := w.readHead()
	if err != nil {
		t.Fatal(err)
	}
	sink := bodySink{sum: md5.New()}
	if err := w.readBody(h, &sink); err != nil || sink.n != maxBody {
		t.Fatalf("read %d bytes, err %v; want %d", sink.n, err, maxBody)
	}
	want := md5.Sum(make([]byte, maxBody))
	if got := hex.EncodeToString(sink.sum.Sum(nil)); got != hex.EncodeToString(want[:]) {
		t.Fatalf("digest %s", got)
	}
}

func TestBuildRequest(t *testing.T) {
	c := Common{ConnectPort: 8080}
	c.ConnectIP = netip.MustParseAddr("2001:db8::2")
	got := string(buildRequest(c, &HTTPSpec{Protocol: "1.1"}, URL{Path: "/x?y=1"}))
	want := "GET /x?y=1 HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nHost: [2001:db8::2]:8080\r\nConnection: close\r\n\r\n"
	if got != want {
		t.Fatalf("request %q, want %q", got, want)
	}
	got = string(buildRequest(c, &HTTPSpec{Protocol: "1.0C", VirtualHost: "a.example"}, URL{Path: "/", VirtualHost: "b.example"}))
	if want := "GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: b.example\r\nConnection: close\r\n\r\n"; got != want {
		t.Fatalf("request %q, want %q", got, want)
	}
}

// FuzzWireResponse: never a panic, and wherever net/http reads a response and its whole body,
// the checker's reader sees the same status and body.
func FuzzWireResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.0 301 Moved\r\nLocation: /\r\n\r\nbody until close",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, digest, err := readWire(s, 48)
		resp, herr := http.ReadResponse(bufio.NewReader(strings.NewReader(s)), &http.Request{Method: http.MethodGet})
		if herr != nil {
			return
		}
		body, berr := io.ReadAll(resp.Body)
		if berr != nil || resp.StatusCode < 100 || resp.StatusCode > 999 || len(resp.TransferEncoding) > 1 || resp.ProtoMajor != 1 {
			return
		}
		// net/http tolerates what the checker refuses in a few corners (headers it repairs);
		// it must never be the other way round for a well-formed response it accepted.
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "malformed") {
				return
			}
			t.Fatalf("checker: %v; net/http read status %d and %d body bytes", err, resp.StatusCode, len(body))
		}
		sum := md5.Sum(body)
		if h.status != resp.StatusCode || digest != hex.EncodeToString(sum[:]) {
			t.Fatalf("checker: status %d digest %s; net/http: status %d body %q", h.status, digest, resp.StatusCode, body)
		}
	})
}
