package check

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBody bounds what an HTTP check reads of a body (and hashes).
const maxBody = 64 << 20

// Thousands of checks a second: reuse the response reader and the copy buffer instead of
// allocating 4 KiB + 32 KiB of garbage per check.
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	copyPool   = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}
)

// httpResult is what one url fetch saw.
type httpResult struct {
	Status int
	Digest string // hex MD5 of the body
	Body   []byte // kept only when a regex needs it
}

// probeHTTP checks every url in order; all must pass.
func probeHTTP(ctx context.Context, s Spec, tlsCfg *tls.Config) (Outcome, error) {
	for _, u := range s.HTTP.URLs {
		res, err := fetch(ctx, s.Common, s.HTTP, u, tlsCfg)
		if err != nil {
			return Outcome{}, fmt.Errorf("url %s: %w", u.Path, err)
		}
		if !statusOK(u.StatusCodes, res.Status) {
			return Outcome{}, fmt.Errorf("url %s: HTTP status code error: %d", u.Path, res.Status)
		}
		if u.Digest != "" && !strings.EqualFold(u.Digest, res.Digest) {
			return Outcome{}, fmt.Errorf("url %s: MD5 digest error: %s", u.Path, res.Digest)
		}
		if u.Regex != nil && regexMatches(u, res.Body) == u.RegexNoMatch {
			return Outcome{}, fmt.Errorf("url %s: regex %q: match %v", u.Path, u.Regex.String(), !u.RegexNoMatch)
		}
	}
	return Outcome{OK: true}, nil
}

// fetch sends one GET the way keepalived does (request line with http_protocol, Host header
// from virtualhost or the address, a Connection: close for 1.0C and 1.1) and reads the whole
// response; ctx's deadline bounds connect, TLS handshake, headers and body together.
func fetch(ctx context.Context, c Common, h *HTTPSpec, u URL, tlsCfg *tls.Config) (httpResult, error) {
	conn, err := dial(ctx, "tcp", c)
	if err != nil {
		return httpResult{}, err
	}
	defer conn.Close()
	stop := withDeadline(ctx, conn)
	defer stop()
	vhost := u.VirtualHost
	if vhost == "" {
		vhost = h.VirtualHost
	}
	if tlsCfg != nil {
		cfg := tlsCfg.Clone()
		if h.EnableSNI {
			switch {
			case h.SNIName != "":
				cfg.ServerName = h.SNIName
			case vhost != "":
				cfg.ServerName = vhost
			}
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return httpResult{}, fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	host := vhost
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
	req := "GET " + u.Path + " " + proto + "\r\nUser-Agent: KeepAliveClient\r\nHost: " + host + "\r\n" + closeHdr + "\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return httpResult{}, fmt.Errorf("send request: %w", err)
	}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(conn)
	defer func() { br.Reset(nil); readerPool.Put(br) }()
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return httpResult{}, fmt.Errorf("read response: %w", err)
	}
	defer resp.Body.Close()
	sum := md5.New()
	var w io.Writer = sum
	var body *bytes.Buffer
	if u.Regex != nil {
		body = new(bytes.Buffer)
		w = io.MultiWriter(sum, body)
	}
	buf := copyPool.Get().(*[]byte)
	n, err := io.CopyBuffer(w, io.LimitReader(resp.Body, maxBody), *buf)
	copyPool.Put(buf)
	if err != nil && !(errors.Is(err, io.ErrUnexpectedEOF) && !h.TLSCompliant && resp.ContentLength < 0) {
		return httpResult{}, fmt.Errorf("read body after %d bytes: %w", n, err)
	}
	res := httpResult{Status: resp.StatusCode, Digest: hex.EncodeToString(sum.Sum(nil))}
	if body != nil {
		res.Body = body.Bytes()
	}
	return res, nil
}

// regexMatches searches the body from regex_min_offset; a match must start at or before
// regex_max_offset when that is set.
func regexMatches(u URL, body []byte) bool {
	if u.RegexMinOffset > len(body) {
		return false
	}
	loc := u.Regex.FindIndex(body[u.RegexMinOffset:])
	if loc == nil {
		return false
	}
	return u.RegexMaxOffset <= 0 || u.RegexMinOffset+loc[0] <= u.RegexMaxOffset
}

// clientTLS builds the SSL_GET client configuration: no verification unless a CA is given (as
// keepalived), an optional client certificate.
func clientTLS(h *HTTPSpec) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10} //nolint:gosec // keepalived does not verify by default
	if h.CertFile != "" || h.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(h.CertFile, h.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ssl certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if h.CAFile != "" {
		pem, err := os.ReadFile(h.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ssl ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ssl ca %s: no certificate", h.CAFile)
		}
		cfg.RootCAs, cfg.InsecureSkipVerify = pool, false
	}
	return cfg, nil
}

// GenHashOptions are genhash's options: -V virtualhost (also the SNI name for https), -P
// http_protocol ("1.0" default, "1.0C", "1.1"), -t timeout (default 5 s).
type GenHashOptions struct {
	VirtualHost string
	Protocol    string
	Timeout     time.Duration
}

// GenHash fetches rawURL (http:// or https://) exactly as HTTP_GET / SSL_GET would and returns
// the status code and the MD5 digest of the body to put in a url's `digest` keyword.
func GenHash(ctx context.Context, rawURL string, opt GenHashOptions) (status int, digest string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, "", fmt.Errorf("genhash: %w", err)
	}
	port := u.Port()
	var tlsCfg *tls.Config
	switch u.Scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
		tlsCfg = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // as keepalived's genhash
	default:
		return 0, "", fmt.Errorf("genhash: scheme %q: want http or https", u.Scheme)
	}
	switch opt.Protocol {
	case "", "1.0", "1.0C", "1.1":
	default:
		return 0, "", fmt.Errorf("genhash: protocol %q: want 1.0, 1.0C or 1.1", opt.Protocol)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil || len(addrs) == 0 {
		return 0, "", fmt.Errorf("genhash: resolve %s: %w", u.Hostname(), err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return 0, "", fmt.Errorf("genhash: port %q: %w", port, err)
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h := &HTTPSpec{Protocol: opt.Protocol, VirtualHost: opt.VirtualHost, EnableSNI: true, SNIName: opt.VirtualHost}
	if opt.VirtualHost == "" && tlsCfg != nil && net.ParseIP(u.Hostname()) == nil {
		tlsCfg.ServerName = u.Hostname()
	}
	res, err := fetch(ctx, Common{ConnectIP: addrs[0].Unmap(), ConnectPort: uint16(p)}, h, URL{Path: u.RequestURI()}, tlsCfg)
	if err != nil {
		return 0, "", fmt.Errorf("genhash %s: %w", rawURL, err)
	}
	return res.Status, res.Digest, nil
}
