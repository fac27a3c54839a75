package check

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// The benchmarks' baseline: TCP_CHECK and HTTP_GET as they were before the raw-socket path
// (net.Dialer, net/http's response reader, a context.WithTimeout per probe), so
// BenchmarkScheduler10k and BenchmarkProbeCost report both in the same run.

var (
	stdReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	stdCopyPool   = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}
)

// stdProbe is Scheduler.baseline for the benchmarks.
func stdProbe(ctx context.Context, ck *checker) (Outcome, error) {
	sp := ck.spec
	if sp.Kind == TCP {
		conn, err := dial(ctx, "tcp", sp.Common)
		if err != nil {
			return Outcome{}, err
		}
		_ = conn.Close()
		return Outcome{OK: true}, nil
	}
	for _, u := range sp.HTTP.URLs {
		status, digest, err := stdFetch(ctx, sp.Common, sp.HTTP, u)
		if err != nil {
			return Outcome{}, fmt.Errorf("url %s: %w", u.Path, err)
		}
		if !statusOK(u.StatusCodes, status) {
			return Outcome{}, fmt.Errorf("url %s: HTTP status code error: %d", u.Path, status)
		}
		if u.Digest != "" && !strings.EqualFold(u.Digest, digest) {
			return Outcome{}, fmt.Errorf("url %s: MD5 digest error: %s", u.Path, digest)
		}
	}
	return Outcome{OK: true}, nil
}

func stdFetch(ctx context.Context, c Common, h *HTTPSpec, u URL) (int, string, error) {
	conn, err := dial(ctx, "tcp", c)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	stop := withDeadline(ctx, conn)
	defer stop()
	host := u.VirtualHost
	if host == "" {
		host = h.VirtualHost
	}
	if host == "" {
		host = c.ConnectIP.String() + ":" + strconv.Itoa(int(c.ConnectPort))
	}
	proto, closeHdr := "HTTP/1.0", ""
	switch h.Protocol {
	case "1.1":
		proto, closeHdr = "HTTP/1.1", "Connection: close\r\n"
	case "1.0C":
		closeHdr = "Connection: close\r\n"
	}
	req := "GET " + u.Path + " " + proto + "\r\nUser-Agent: KeepAliveClient\r\nHost: " + host + "\r\n" + closeHdr + "\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return 0, "", fmt.Errorf("send request: %w", err)
	}
	br := stdReaderPool.Get().(*bufio.Reader)
	br.Reset(conn)
	defer func() { br.Reset(nil); stdReaderPool.Put(br) }()
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return 0, "", fmt.Errorf("read response: %w", err)
	}
	defer resp.Body.Close()
	sum := md5.New()
	var w io.Writer = sum
	if u.Regex != nil {
		w = io.MultiWriter(sum, new(bytes.Buffer))
	}
	buf := stdCopyPool.Get().(*[]byte)
	n, err := io.CopyBuffer(w, io.LimitReader(resp.Body, maxBody), *buf)
	stdCopyPool.Put(buf)
	if err != nil && !(errors.Is(err, io.ErrUnexpectedEOF) && !h.TLSCompliant && resp.ContentLength < 0) {
		return 0, "", fmt.Errorf("read body after %d bytes: %w", n, err)
	}
	return resp.StatusCode, hex.EncodeToString(sum.Sum(nil)), nil
}
