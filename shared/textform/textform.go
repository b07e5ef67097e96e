// Package textform checks strings against the simple forms Berth's ids
// and names take — a fixed layout of digits and hex, a run of allowed
// characters — by hand. A regular expression with a counted repetition
// ({0,99}, {64}) compiles into a program with one copy per count, and a
// package-level one is compiled at every start of every function that
// links it (docs/lambda-mode.md, cold start).
package textform

import "strings"

// Layout reports whether s has form's layout, byte by byte: 'd' stands
// for a decimal digit, 'x' for a lower-case hex digit, and any other
// byte for itself.
func Layout(s, form string) bool {
	if len(s) != len(form) {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch f := form[i]; f {
		case 'd':
			if !isDigit(c) {
				return false
			}
		case 'x':
			if !isDigit(c) && (c < 'a' || c > 'f') {
				return false
			}
		default:
			if c != f {
				return false
			}
		}
	}
	return true
}

// Run reports whether s is min to max bytes long, each an ASCII letter,
// an ASCII digit or one of the bytes of extra.
func Run(s string, min, max int, extra string) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !Alnum(c) && strings.IndexByte(extra, c) < 0 {
			return false
		}
	}
	return true
}

// Name reports whether s is a name: 1 to max bytes, an ASCII letter or
// digit, then letters, digits or bytes of extra.
func Name(s string, max int, extra string) bool {
	return s != "" && Alnum(s[0]) && Run(s[1:], 0, max-1, extra)
}

// Alnum reports whether c is an ASCII letter or digit.
func Alnum(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
