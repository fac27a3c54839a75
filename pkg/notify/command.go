package notify

import (
	"errors"
	"fmt"
	"strings"
)

// ErrEmptyCommand is returned for a command line with no words.
var ErrEmptyCommand = errors.New("empty command")

// SplitCommand splits a command line into arguments: white space separates words, '...' and
// "..." group (the quotes are removed), and a backslash outside single quotes escapes the next
// character. An unterminated quote or a trailing backslash is an error.
func SplitCommand(line string) ([]string, error) {
	var (
		args    []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range line {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case quote == '"':
			if r == '"' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if escaped {
		return nil, fmt.Errorf("command %q: trailing backslash", line)
	}
	if quote != 0 {
		return nil, fmt.Errorf("command %q: unterminated %c quote", line, quote)
	}
	if inWord {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		return nil, ErrEmptyCommand
	}
	return args, nil
}
