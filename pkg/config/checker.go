package config

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
