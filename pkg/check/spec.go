package check

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/xalived/xalived/pkg/notify"
)

// Kind names a checker as keepalived.conf does.
type Kind string

// The checker kinds.
const (
	TCP  Kind = "TCP_CHECK"
	HTTP Kind = "HTTP_GET"
	SSL  Kind = "SSL_GET"
	MISC Kind = "MISC_CHECK"
	SMTP Kind = "SMTP_CHECK"
	DNS  Kind = "DNS_CHECK"
	UDP  Kind = "UDP_CHECK"
	PING Kind = "PING_CHECK"
	FILE Kind = "FILE_CHECK"
)

// short is the word keepalived puts in mails ("TCP CHECK failed on service").
func (k Kind) short() string {
	switch k {
	case TCP:
		return "TCP"
	case HTTP, SSL:
		return ""
	case MISC:
		return "MISC"
	case SMTP:
		return "SMTP"
	case DNS:
		return "DNS"
	case UDP:
		return "UDP"
	case PING:
		return "ICMP"
	case FILE:
		return "FILE"
	}
	return string(k)
}

// Defaults of keepalived 2.2 (keepalived.conf(5)).
const (
	DefaultDelayLoop        = 60 * time.Second
	DefaultConnectTimeout   = 5 * time.Second
	DefaultDelayBeforeRetry = time.Second
	DefaultHTTPRetryDelay   = 3 * time.Second
	DefaultRetry            = 1
	DefaultDNSRetry         = 3
	DefaultMiscRetry        = 0
	DefaultMaxReplyLength   = 255
)

// Common holds the keywords every checker shares. Pointer fields distinguish "unset" (inherit or
// default) from an explicit zero.
type Common struct {
	ConnectIP   netip.Addr // default: the real server's address
	ConnectPort uint16     // default: the real server's port
	BindTo      netip.Addr
	BindPort    uint16
	BindIf      string
	FWMark      uint32 // SO_MARK on the checker's sockets

	ConnectTimeout   time.Duration // 0: default
	DelayLoop        time.Duration // 0: default
	DelayBeforeRetry *time.Duration
	Warmup           *time.Duration // nil: delay_loop; 0 disables the random start offset
	Retry            *int           // retry / nb_get_retry
	Alpha            *bool
	LogAllFailures   bool

	// Rise is ours: consecutive successes a DOWN checker needs to come UP (default 1).
	Rise int
}

// URL is one `url` block of HTTP_GET / SSL_GET.
type URL struct {
	Path        string
	Digest      string // lower-case hex MD5 of the body; empty: not checked
	StatusCodes []StatusRange
	VirtualHost string
	// Regex, when set, must match the body (must not, with RegexNoMatch), searched from
	// RegexMinOffset; a match starting after RegexMaxOffset (when > 0) does not count. Go's RE2
	// syntax, not PCRE2: back-references and look-arounds are refused at configuration time.
	Regex          *regexp.Regexp
	RegexNoMatch   bool
	RegexMinOffset int
	RegexMaxOffset int
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

// ParseStatusCodes parses status_code arguments ("200", "200-299", ...).
func ParseStatusCodes(args []string) ([]StatusRange, error) {
	var out []StatusRange
	for _, a := range args {
		lo, hi, isRange := strings.Cut(a, "-")
		l, err := strconv.Atoi(lo)
		if err != nil || l < 100 || l > 999 {
			return nil, fmt.Errorf("status_code %q: want a code 100-999 or a range", a)
		}
		h := l
		if isRange {
			if h, err = strconv.Atoi(hi); err != nil || h < l || h > 999 {
				return nil, fmt.Errorf("status_code %q: bad range", a)
			}
		}
		out = append(out, StatusRange{l, h})
	}
	return out, nil
}

func statusOK(ranges []StatusRange, code int) bool {
	if len(ranges) == 0 {
		return code >= 200 && code <= 299
	}
	for _, r := range ranges {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// HTTPSpec holds HTTP_GET / SSL_GET keywords.
type HTTPSpec struct {
	URLs         []URL
	Protocol     string // "1.0" (default), "1.0C" or "1.1"
	VirtualHost  string // checker-level default for urls
	EnableSNI    bool
	SNIName      string
	TLSCompliant bool
	FastRecovery bool
	// TLS client material (the global SSL block); empty: no client certificate, no verification.
	CAFile, CertFile, KeyFile string
}

// MiscSpec holds MISC_CHECK keywords.
type MiscSpec struct {
	Path    string   // misc_path, split like a notify script
	Argv    []string // misc_path already split (by the config parser); wins over Path
	Timeout time.Duration
	Dynamic bool
	User    string
	Group   string
}

// SMTPSpec holds SMTP_CHECK keywords; Hosts are the `host {}` sub-blocks (each with its own
// connect_ip / connect_port / bindto ...); with none, the real server itself is checked.
type SMTPSpec struct {
	HeloName string
	Hosts    []Common
}

// DNSSpec holds DNS_CHECK keywords.
type DNSSpec struct {
	Type string // A NS CNAME SOA MX TXT AAAA; default SOA
	Name string // default "."
}

// UDPSpec holds UDP_CHECK keywords.
type UDPSpec struct {
	Payload        []byte
	RequireReply   bool
	ReplyPattern   []byte // nibbles; with ReplyMask
	ReplyMask      []byte // 0xf0/0x0f/0xff per byte: which nibbles must match
	MinReplyLength int
	MaxReplyLength int // 0: default 255
}

// ParseHex parses keepalived's free-form HEX_STR ("Ab12f 3 456" = AB 12 0F 03 45 06): within a
// group of hex digits bytes are read in pairs, and a group's odd last digit is a byte of its
// own. With wildcard, X or x stands for a nibble that is not compared (mask returned).
func ParseHex(s string, wildcard bool) (data, mask []byte, err error) {
	for _, group := range strings.Fields(s) {
		for i := 0; i < len(group); i += 2 {
			pair := group[i:min(i+2, len(group))]
			var b, m byte
			for _, c := range pair {
				b <<= 4
				m <<= 4
				switch {
				case c >= '0' && c <= '9':
					b |= byte(c - '0')
					m |= 0xf
				case c >= 'a' && c <= 'f':
					b |= byte(c-'a') + 10
					m |= 0xf
				case c >= 'A' && c <= 'F':
					b |= byte(c-'A') + 10
					m |= 0xf
				case wildcard && (c == 'x' || c == 'X'):
				default:
					return nil, nil, fmt.Errorf("hex string %q: bad character %q", s, c)
				}
			}
			data, mask = append(data, b), append(mask, m)
		}
	}
	return data, mask, nil
}

// FileSpec holds FILE_CHECK keywords: the value of a track_file, times Weight (negated with
// Reverse); with Dynamic the product is added to the real server's weight.
type FileSpec struct {
	Path    string // the track_file's file
	Weight  int
	Reverse bool
	Dynamic bool
	Init    *int // init_file value when the file is missing
}

// Spec is one checker of a real server.
type Spec struct {
	Kind Kind
	Common
	HTTP *HTTPSpec
	Misc *MiscSpec
	SMTP *SMTPSpec
	DNS  *DNSSpec
	UDP  *UDPSpec
	File *FileSpec
}

// RSKey identifies a real server within a virtual server.
type RSKey struct {
	VS VSKey
	// Addr and Port of the real server.
	Addr netip.Addr
	Port uint16
}

func (k RSKey) String() string {
	return notify.ServiceName(k.Addr.String(), k.VS.protoLower(), k.Port) + " " + k.VS.String()
}

// VSKey identifies a virtual server: address+protocol+port, fwmark, or group name.
type VSKey struct {
	Addr     netip.Addr
	Port     uint16
	Protocol string // TCP UDP SCTP
	FWMark   uint32
	Group    string
}

func (k VSKey) protoLower() string {
	if k.Protocol == "" {
		return "tcp"
	}
	return strings.ToLower(k.Protocol)
}

// String formats the key as keepalived does ("[ip]:tcp:80", "FWM 1", "[group]:tcp:80").
func (k VSKey) String() string {
	switch {
	case k.FWMark != 0:
		return notify.FWMarkName(k.FWMark)
	case k.Group != "":
		return notify.ServiceName(k.Group, k.protoLower(), k.Port)
	}
	return notify.ServiceName(k.Addr.String(), k.protoLower(), k.Port)
}

// RealServer is one real_server block with its checkers.
type RealServer struct {
	Addr       netip.Addr
	Port       uint16
	Weight     int // default 1 (set by the caller; 0 is a valid weight)
	NotifyUp   *notify.Script
	NotifyDown *notify.Script
	SMTPAlert  bool
	Checkers   []Spec
}

// VirtualServer is one virtual_server with the settings checkers inherit.
type VirtualServer struct {
	Key         VSKey
	RealServers []RealServer
	// Inherited by real servers' checkers when they leave them unset.
	Defaults Common
	// VirtualHost is the default HTTP virtualhost of its checkers.
	VirtualHost string
	// Quorum (default 1 when 0) and Hysteresis decide the virtual server's quorum from the
	// weights of its live real servers; QuorumUp / QuorumDown run on its changes, with an lvs
	// FIFO "VS" line and, with SMTPAlert, a mail.
	Quorum     int
	Hysteresis int
	QuorumUp   *notify.Script
	QuorumDown *notify.Script
	SMTPAlert  bool
	// HASuspend pauses this virtual server's checkers while its address is not on this host
	// (the VRRP backup), as Config.AddressLocal reports; their states stay as they were.
	HASuspend bool
}

// resolve fills a checker's unset keywords from the VS defaults and keepalived's defaults.
func resolve(vs *VirtualServer, rs *RealServer, s Spec) Spec {
	c := &s.Common
	d := vs.Defaults
	if !c.ConnectIP.IsValid() {
		c.ConnectIP = rs.Addr
	}
	if c.ConnectPort == 0 {
		c.ConnectPort = rs.Port
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = d.ConnectTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.DelayLoop == 0 {
		c.DelayLoop = d.DelayLoop
	}
	if c.DelayLoop == 0 {
		c.DelayLoop = DefaultDelayLoop
	}
	if c.Retry == nil {
		c.Retry = d.Retry
	}
	if c.Retry == nil {
		r := DefaultRetry
		switch s.Kind {
		case DNS:
			r = DefaultDNSRetry
		case MISC:
			r = DefaultMiscRetry
		}
		c.Retry = &r
	}
	if c.DelayBeforeRetry == nil {
		c.DelayBeforeRetry = d.DelayBeforeRetry
	}
	if c.DelayBeforeRetry == nil {
		v := DefaultDelayBeforeRetry
		switch s.Kind {
		case HTTP, SSL:
			v = DefaultHTTPRetryDelay
		case DNS:
			v = c.DelayLoop
		}
		c.DelayBeforeRetry = &v
	}
	if c.Warmup == nil {
		c.Warmup = d.Warmup
	}
	if c.Warmup == nil {
		w := c.DelayLoop
		c.Warmup = &w
	}
	if c.Alpha == nil {
		c.Alpha = d.Alpha
	}
	if c.Alpha == nil {
		f := false
		c.Alpha = &f
	}
	if c.Rise <= 0 {
		c.Rise = max(d.Rise, 1)
	}
	if !c.BindTo.IsValid() {
		c.BindTo = d.BindTo
	}
	if c.FWMark == 0 {
		c.FWMark = d.FWMark
	}
	if c.BindIf == "" {
		c.BindIf = d.BindIf
	}
	if s.HTTP != nil {
		h := *s.HTTP
		if h.VirtualHost == "" {
			h.VirtualHost = vs.VirtualHost
		}
		s.HTTP = &h
	}
	if s.Misc != nil && s.Misc.Timeout == 0 {
		m := *s.Misc
		m.Timeout = c.DelayLoop
		s.Misc = &m
	}
	return s
}

// Validate reports a spec that cannot run.
func (s Spec) Validate() error {
	switch s.Kind {
	case TCP, PING:
	case HTTP, SSL:
		if s.HTTP == nil || len(s.HTTP.URLs) == 0 {
			return fmt.Errorf("%s: no url", s.Kind)
		}
		switch s.HTTP.Protocol {
		case "", "1.0", "1.0C", "1.1":
		default:
			return fmt.Errorf("%s: http_protocol %q: want 1.0, 1.0C or 1.1", s.Kind, s.HTTP.Protocol)
		}
		for _, u := range s.HTTP.URLs {
			if u.Path == "" {
				return fmt.Errorf("%s: url without path", s.Kind)
			}
			if u.Digest != "" && len(u.Digest) != 32 {
				return fmt.Errorf("%s: digest %q: want 32 hex digits", s.Kind, u.Digest)
			}
		}
	case MISC:
		if s.Misc == nil || (s.Misc.Path == "" && len(s.Misc.Argv) == 0) {
			return fmt.Errorf("%s: no misc_path", s.Kind)
		}
		if _, err := notify.SplitCommand(s.Misc.Path); len(s.Misc.Argv) == 0 && err != nil {
			return fmt.Errorf("%s: misc_path: %w", s.Kind, err)
		}
	case SMTP:
	case DNS:
		if s.DNS != nil {
			if _, ok := dnsTypes[strings.ToUpper(s.DNS.Type)]; s.DNS.Type != "" && !ok {
				return fmt.Errorf("%s: type %q: want A, NS, CNAME, SOA, MX, TXT or AAAA", s.Kind, s.DNS.Type)
			}
		}
	case UDP:
		if s.UDP != nil && s.UDP.MaxReplyLength != 0 && s.UDP.MaxReplyLength < s.UDP.MinReplyLength {
			return fmt.Errorf("%s: max_reply_length < min_reply_length", s.Kind)
		}
	case FILE:
		if s.File == nil || s.File.Path == "" {
			return fmt.Errorf("%s: no track_file", s.Kind)
		}
	default:
		return fmt.Errorf("unknown checker %q", s.Kind)
	}
	return nil
}

// validateTimes rejects resolved timings that cannot be scheduled.
func (s Spec) validateTimes() error {
	switch {
	case s.DelayLoop <= 0:
		return fmt.Errorf("%s: delay_loop %v must be positive", s.Kind, s.DelayLoop)
	case s.ConnectTimeout <= 0:
		return fmt.Errorf("%s: connect_timeout %v must be positive", s.Kind, s.ConnectTimeout)
	case *s.DelayBeforeRetry < 0:
		return fmt.Errorf("%s: delay_before_retry %v is negative", s.Kind, *s.DelayBeforeRetry)
	case *s.Retry < 0:
		return fmt.Errorf("%s: retry %d is negative", s.Kind, *s.Retry)
	case *s.Warmup < 0:
		return fmt.Errorf("%s: warmup %v is negative", s.Kind, *s.Warmup)
	case s.Misc != nil && s.Misc.Timeout <= 0:
		return fmt.Errorf("%s: misc_timeout %v must be positive", s.Kind, s.Misc.Timeout)
	}
	return nil
}
