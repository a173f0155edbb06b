package shipgraph_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// storable reports whether s may be stored in a text field: valid UTF-8,
// rune count within [min, max], no control or format characters except
// \n, \r and \t when multiline.
func storable(s string, min, max int, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	if n := utf8.RuneCountInString(s); n < min || n > max {
		return false
	}
	for _, c := range s {
		if multiline && (c == '\n' || c == '\r' || c == '\t') {
			continue
		}
		if unicode.IsControl(c) || unicode.In(c, unicode.Cf, unicode.Zl, unicode.Zp) {
			return false
		}
	}
	return true
}

func FuzzFeatureCreateValidate(f *testing.F) {
	for _, seed := range []struct {
		name, description string
		points            int
	}{
		{"Dark mode", "Follow the OS theme.", 5},
		{"  Dark mode\t", "\nline one\r\nline two\t\n", 1},
		{"日本", "", 13},
		{"é", "", 3},
		{strings.Repeat("é", 255), strings.Repeat("日", 2000), 8},
		{strings.Repeat("日", 256), strings.Repeat("a", 2001), 8},
		{"", "", 0},
		{" \t\r\n ", "   ", 14},
		{"<b>x</b>", "<script>alert(1)</script>", 2},
		{"Dark\x00mode", "a\x1bb", -1},
		{"Dark\u202emode", "a\u200db", 3},
		{"\u0085Dark mode\u0085", "\vdesc\f", 3},
		{"Dark\u2028mode", "\u2029", 3},
		{"Dark\xffmode", "\xc3", 3},
		{"\xed\xa0\x80ab", "ok", 3},
		{"\ufeffBOM", "", 3},
		{"a\u0301", "e\u0301", 3},
	} {
		f.Add(seed.name, seed.description, seed.points)
	}
	f.Fuzz(func(t *testing.T, name, description string, points int) {
		in := shipgraph.FeatureCreate{Name: name, Description: description, ComplexityPoints: points}
		err := in.Validate() // must not panic

		trimmedName, trimmedDesc := strings.TrimSpace(name), strings.TrimSpace(description)
		nameOK := storable(trimmedName, 2, 255, false)
		descOK := storable(trimmedDesc, 0, 2000, true)
		pointsOK := points >= 1 && points <= 13

		if err != nil {
			var e *shipgraph.Error
			if !errors.As(err, &e) || e.Code != shipgraph.CodeBadUserInput {
				t.Fatalf("error %v is not a BAD_USER_INPUT *shipgraph.Error", err)
			}
			// The first offending field, in order, is reported.
			want := "complexityPoints"
			switch {
			case !nameOK:
				want = "name"
			case !descOK:
				want = "description"
			case pointsOK:
				t.Fatalf("valid input (%q, %q, %d) rejected: %v", name, description, points, err)
			}
			if e.Field != want {
				t.Fatalf("field = %q, want %q (%v)", e.Field, want, err)
			}
			return
		}

		if !nameOK || !descOK || !pointsOK {
			t.Fatalf("invalid input (%q, %q, %d) accepted", name, description, points)
		}
		// The stored name: trimmed, 2–255 runes, valid UTF-8, no controls.
		if in.Name != trimmedName || strings.TrimSpace(in.Name) != in.Name {
			t.Fatalf("stored name %q is not the trimmed input %q", in.Name, trimmedName)
		}
		if !utf8.ValidString(in.Name) {
			t.Fatalf("stored name %q is not valid UTF-8", in.Name)
		}
		if n := utf8.RuneCountInString(in.Name); n < 2 || n > 255 {
			t.Fatalf("stored name has %d characters", n)
		}
		for _, c := range in.Name {
			if unicode.IsControl(c) || unicode.In(c, unicode.Cf, unicode.Zl, unicode.Zp) {
				t.Fatalf("stored name %q contains control character %U", in.Name, c)
			}
		}
		if in.Description != trimmedDesc {
			t.Fatalf("stored description %q is not the trimmed input %q", in.Description, trimmedDesc)
		}
		if in.Status != shipgraph.FeatureDraft {
			t.Fatalf("status = %q, want DRAFT", in.Status)
		}
		// Validating again is a no-op.
		again := in
		if err := again.Validate(); err != nil || again != in {
			t.Fatalf("second Validate changed %+v to %+v (%v)", in, again, err)
		}
	})
}
