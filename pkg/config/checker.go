package config

import "strings"

func isHexString(s string, wild bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) && !(wild && (s[i] == 'X' || s[i] == 'x')) {
			return false
		}
	}
	return true
}

// hexGroups joins the arguments of a UDP_CHECK payload / require_reply with single spaces:
// keepalived reads them as one HEX_STR of several groups ("Ab12f 3 456"), each group's digits
// read in pairs (see check.ParseHex). Every group must be hex (X wildcards when wild).
func hexGroups(p *parser, s stmt, what string, wild bool) (string, bool) {
	for _, w := range s.words[1:] {
		if !isHexString(w, wild) {
			p.errorf(s.pos, "UDP_CHECK %s '%s' is not hex", what, w)
			return "", false
		}
	}
	return strings.Join(s.words[1:], " "), true
}
