package shipgraph

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// textRule describes one free-text input: how long it may be once trimmed, in
// characters (not bytes, so "é" counts once), and whether it may span lines.
type textRule struct {
	field     string
	min, max  int
	multiline bool
}

// check trims s and validates it. It returns the trimmed value, which is what
// gets stored: text is kept as the user sent it, never HTML-escaped.
func (r textRule) check(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", InvalidField(r.field, "%s is not valid UTF-8", r.field)
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0 && r.min > 0:
		return "", InvalidField(r.field, "%s must not be blank", r.field)
	case n < r.min:
		return "", InvalidField(r.field, "%s must be at least %d characters", r.field, r.min)
	case n > r.max:
		return "", InvalidField(r.field, "%s must be at most %d characters", r.field, r.max)
	}
	for _, c := range s {
		if r.multiline && (c == '\n' || c == '\r' || c == '\t') {
			continue
		}
		// Control and format characters (NUL, escape sequences, bidi
		// overrides, zero-width joiners...) and the Unicode line and
		// paragraph separators corrupt terminals and logs and can disguise
		// text, so none of them are stored.
		if unicode.IsControl(c) || unicode.In(c, unicode.Cf, unicode.Zl, unicode.Zp) {
			return "", InvalidField(r.field, "%s must not contain control characters", r.field)
		}
	}
	return s, nil
}

// checkOptional validates *s in place when it is set.
func (r textRule) checkOptional(s *string) error {
	if s == nil {
		return nil
	}
	v, err := r.check(*s)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// checkRange validates an integer bound.
func checkRange(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return InvalidField(field, "%s must be between %d and %d", field, lo, hi)
	}
	return nil
}

// checkVersion validates an optimistic-concurrency token.
func checkVersion(v *int) error {
	if v != nil && *v < 1 {
		return InvalidField("expectedVersion", "expectedVersion must be at least 1")
	}
	return nil
}
