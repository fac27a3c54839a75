package check

import (
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
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds what an HTTP check reads of a body (and hashes).
const maxBody = 64 << 20

// httpResult is what one url fetch saw.
type httpResult struct {
	Status int
	Digest string // hex MD5 of the body, when asked for
	Body   []byte // kept only when a regex needs it
}

// probeHTTP checks every url in order; all must pass. reqs, when not nil, holds each url's
// prebuilt request (buildRequest).
func probeHTTP(ctx context.Context, s Spec, tlsCfg *tls.Config, reqs [][]byte) (Outcome, error) {
	for i, u := range s.HTTP.URLs {
		var req []byte
		if i < len(reqs) {
			req = reqs[i]
		}
		res, err := fetch(ctx, s.Common, s.HTTP, u, req, u.Digest != "", tlsCfg)
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

// fetch sends one GET the way keepalived does (buildRequest; req when prebuilt) and reads the
// whole response (up to maxBody bytes of body, hashed when digest is set); ctx's deadline
// bounds connect, TLS handshake, headers and body together.
func fetch(ctx context.Context, c Common, h *HTTPSpec, u URL, req []byte, digest bool, tlsCfg *tls.Config) (httpResult, error) {
	sc, err := dialTCP(ctx, c)
	if err != nil {
		return httpResult{}, err
	}
	defer sc.Close()
	// The response is never there before the request: the socket joins the poller now (and
	// crypto/tls, which may close it from another goroutine when ctx ends, needs it there).
	if err := sc.waitable(); err != nil {
		return httpResult{}, err
	}
	var conn io.ReadWriter = sc
	if tlsCfg != nil {
		vhost := u.VirtualHost
		if vhost == "" {
			vhost = h.VirtualHost
		}
		cfg := tlsCfg.Clone()
		if h.EnableSNI {
			switch {
			case h.SNIName != "":
				cfg.ServerName = h.SNIName
			case vhost != "":
				cfg.ServerName = vhost
			}
		}
		sc.remote = net.TCPAddrFromAddrPort(netip.AddrPortFrom(c.ConnectIP, c.ConnectPort))
		tc := tls.Client(sc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return httpResult{}, fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	if req == nil {
		req = buildRequest(c, h, u)
	}
	if _, err := conn.Write(req); err != nil {
		return httpResult{}, fmt.Errorf("send request: %w", err)
	}
	bp := wireBufPool.Get().(*[]byte)
	defer wireBufPool.Put(bp)
	w := wireReader{r: conn, buf: *bp}
	head, err := w.readHead()
	if err != nil {
		return httpResult{}, fmt.Errorf("read response: %w", err)
	}
	var sink bodySink
	if digest {
		sink.sum = md5.New()
	}
	if u.Regex != nil {
		sink.keep = new(bytes.Buffer)
	}
	err = w.readBody(head, &sink)
	if err != nil && !(errors.Is(err, io.ErrUnexpectedEOF) && !h.TLSCompliant && head.length < 0) {
		return httpResult{}, fmt.Errorf("read body after %d bytes: %w", sink.n, err)
	}
	res := httpResult{Status: head.status}
	if sink.sum != nil {
		res.Digest = hex.EncodeToString(sink.sum.Sum(nil))
	}
	if sink.keep != nil {
		res.Body = sink.keep.Bytes()
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
	res, err := fetch(ctx, Common{ConnectIP: addrs[0].Unmap(), ConnectPort: uint16(p)}, h, URL{Path: u.RequestURI()}, nil, true, tlsCfg)
	if err != nil {
		return 0, "", fmt.Errorf("genhash %s: %w", rawURL, err)
	}
	return res.Status, res.Digest, nil
}
