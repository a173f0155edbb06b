package shipgraph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// textField is one free-text input of the API, reached through the
// Validate method of the input that carries it.
type textField struct {
	name      string // subtest prefix
	field     string // Error.Field
	min, max  int    // in characters, after trimming
	multiline bool
	// validate puts s into an otherwise valid input, validates the input and
	// returns the value it now holds.
	validate func(s string) (string, error)
}

var textFields = []textField{
	{
		name: "FeatureCreate.name", field: "name", min: 2, max: 255,
		validate: func(s string) (string, error) {
			in := shipgraph.FeatureCreate{Name: s, ComplexityPoints: 3}
			err := in.Validate()
			return in.Name, err
		},
	},
	{
		name: "FeatureCreate.description", field: "description", max: 2000, multiline: true,
		validate: func(s string) (string, error) {
			in := shipgraph.FeatureCreate{Name: "Checkout", Description: s, ComplexityPoints: 3}
			err := in.Validate()
			return in.Description, err
		},
	},
	{
		name: "FeatureUpdate.name", field: "name", min: 2, max: 255,
		validate: func(s string) (string, error) {
			in := shipgraph.FeatureUpdate{ID: 1, Name: &s}
			err := in.Validate()
			return *in.Name, err
		},
	},
	{
		name: "FeatureUpdate.description", field: "description", max: 2000, multiline: true,
		validate: func(s string) (string, error) {
			in := shipgraph.FeatureUpdate{ID: 1, Description: &s}
			err := in.Validate()
			return *in.Description, err
		},
	},
	{
		name: "FeatureFilter.search", field: "filter.search", max: 255,
		validate: func(s string) (string, error) {
			f := shipgraph.FeatureFilter{Search: s}
			err := f.Validate()
			return f.Search, err
		},
	},
	{
		name: "TestCaseCreate.title", field: "title", min: 2, max: 255,
		validate: func(s string) (string, error) {
			in := shipgraph.TestCaseCreate{FeatureID: 1, Title: s}
			err := in.Validate()
			return in.Title, err
		},
	},
	{
		name: "TestCaseCreate.steps", field: "steps", max: 10000, multiline: true,
		validate: func(s string) (string, error) {
			in := shipgraph.TestCaseCreate{FeatureID: 1, Title: "Login", Steps: s}
			err := in.Validate()
			return in.Steps, err
		},
	},
	{
		name: "TestCaseCreate.expectedResult", field: "expectedResult", max: 2000, multiline: true,
		validate: func(s string) (string, error) {
			in := shipgraph.TestCaseCreate{FeatureID: 1, Title: "Login", ExpectedResult: s}
			err := in.Validate()
			return in.ExpectedResult, err
		},
	},
	{
		name: "TestCaseUpdate.title", field: "title", min: 2, max: 255,
		validate: func(s string) (string, error) {
			in := shipgraph.TestCaseUpdate{ID: 1, Title: &s}
			err := in.Validate()
			return *in.Title, err
		},
	},
	{
		name: "TestCaseUpdate.steps", field: "steps", max: 10000, multiline: true,
		validate: func(s string) (string, error) {
			in := shipgraph.TestCaseUpdate{ID: 1, Steps: &s}
			err := in.Validate()
			return *in.Steps, err
		},
	},
	{
		name: "TestCaseUpdate.expectedResult", field: "expectedResult", max: 2000, multiline: true,
		validate: func(s string) (string, error) {
			in := shipgraph.TestCaseUpdate{ID: 1, ExpectedResult: &s}
			err := in.Validate()
			return *in.ExpectedResult, err
		},
	},
}

// textCase is one input to a text field: want is the stored value when the
// input is accepted, reject says it must be refused.
type textCase struct {
	name   string
	in     string
	want   string
	reject bool
}

func accept(name, in, want string) textCase { return textCase{name: name, in: in, want: want} }
func reject(name, in string) textCase       { return textCase{name: name, in: in, reject: true} }

// letters of 1, 2, 3 and 4 UTF-8 bytes: lengths are counted in characters.
var letters = []struct{ name, s string }{
	{"ascii", "a"},
	{"é", "é"},
	{"日", "日"},
	{"emoji", "😀"},
}

// Characters refused inside every field: C0/C1 controls and Unicode format
// characters (bidi overrides, zero-width characters, BOM). The ones that are
// also white space (space: true) are trimmed away at the edges like any other
// white space, so they can never be stored either.
var forbidden = []struct {
	name, s string
	space   bool
}{
	{"NUL", "\x00", false},
	{"bell", "\a", false},
	{"backspace", "\b", false},
	{"ESC", "\x1b", false},
	{"ANSI escape sequence", "\x1b[31m", false},
	{"vertical tab", "\v", true},
	{"form feed", "\f", true},
	{"DEL", "\x7f", false},
	{"NEL U+0085", "\u0085", true},
	{"C1 CSI U+009B", "\u009b", false},
	{"bidi override U+202E", "\u202e", false},
	{"bidi isolate U+2066", "\u2066", false},
	{"left-to-right mark U+200E", "\u200e", false},
	{"zero-width joiner U+200D", "\u200d", false},
	{"zero-width space U+200B", "\u200b", false},
	{"BOM U+FEFF", "\ufeff", false},
	{"soft hyphen U+00AD", "\u00ad", false},
}

// Line structure, accepted in multi-line fields only.
var lineBreaks = []struct{ name, s string }{
	{"LF", "\n"},
	{"CR", "\r"},
	{"CRLF", "\r\n"},
	{"tab", "\t"},
}

func (f textField) cases() []textCase {
	var cs []textCase
	// Bounds, counted in characters, not bytes.
	for _, l := range letters {
		if f.min > 0 {
			cs = append(cs,
				accept(fmt.Sprintf("min %d × %s accepted", f.min, l.name), strings.Repeat(l.s, f.min), strings.Repeat(l.s, f.min)),
				reject(fmt.Sprintf("below min %d × %s rejected", f.min-1, l.name), strings.Repeat(l.s, f.min-1)))
		}
		cs = append(cs,
			accept(fmt.Sprintf("max %d × %s accepted", f.max, l.name), strings.Repeat(l.s, f.max), strings.Repeat(l.s, f.max)),
			reject(fmt.Sprintf("above max %d × %s rejected", f.max+1, l.name), strings.Repeat(l.s, f.max+1)))
	}

	// Trimming happens before counting, and the trimmed value is stored.
	long := strings.Repeat("é", f.max)
	cs = append(cs,
		accept("leading and trailing spaces trimmed", "  Dark mode  ", "Dark mode"),
		accept("tabs and newlines around trimmed", "\t\n\r Dark mode \r\n\t", "Dark mode"),
		accept("inner spaces kept", "Dark   mode", "Dark   mode"),
		accept("padding does not count towards max", " \t"+long+"\n ", long),
		reject("max+1 with padding still rejected", "  "+long+"é  "),
		accept("HTML accepted unchanged", "<b>x</b>", "<b>x</b>"),
		accept("markup and quotes not escaped", `<script>alert("x")</script> & 'q'`, `<script>alert("x")</script> & 'q'`),
		accept("no-break space inside kept", "Dark\u00a0mode", "Dark\u00a0mode"),
		accept("combining accent counts as a character", "e\u0301e\u0301", "e\u0301e\u0301"),
		reject("invalid UTF-8 byte rejected", "Dark\xffmode"),
		reject("truncated UTF-8 sequence rejected", "Dark mode\xc3"),
		reject("UTF-16 surrogate encoded in UTF-8 rejected", "Dark\xed\xa0\x80mode"),
		reject("emoji ZWJ sequence rejected", "family 👨\u200d👩\u200d👧"),
	)
	if f.min > 0 {
		cs = append(cs,
			reject("empty rejected", ""),
			reject("blank spaces rejected", "     "),
			reject("blank whitespace rejected", " \t\r\n "),
			reject("padding does not count towards min", strings.Repeat(" ", 10)+"a"+strings.Repeat("\t", 10)),
		)
	} else {
		cs = append(cs,
			accept("empty accepted", "", ""),
			accept("blank stored as empty", " \t\r\n ", ""),
		)
	}

	for _, c := range forbidden {
		cs = append(cs, reject(c.name+" inside rejected", "Dark"+c.s+"mode"))
		switch {
		case !c.space:
			cs = append(cs,
				reject(c.name+" leading rejected, not trimmed", c.s+"Dark mode"),
				reject(c.name+" trailing rejected, not trimmed", "Dark mode"+c.s),
			)
		case f.min > 0:
			cs = append(cs,
				accept(c.name+" at the edges trimmed", c.s+"Dark mode"+c.s, "Dark mode"),
				reject(c.name+" alone is blank", c.s+c.s+c.s),
			)
		default:
			cs = append(cs,
				accept(c.name+" at the edges trimmed", c.s+"Dark mode"+c.s, "Dark mode"),
				accept(c.name+" alone stored as empty", c.s+c.s+c.s, ""),
			)
		}
	}
	for _, c := range lineBreaks {
		in := "first" + c.s + "second"
		if f.multiline {
			cs = append(cs, accept(c.name+" inside accepted", in, in))
		} else {
			cs = append(cs, reject(c.name+" inside rejected", in))
		}
	}
	return cs
}

func TestTextFields(t *testing.T) {
	t.Parallel()
	for _, f := range textFields {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range f.cases() {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					got, err := f.validate(tc.in)
					if tc.reject {
						requireInvalid(t, err, f.field)
						return
					}
					requireValid(t, err)
					if got != tc.want {
						t.Errorf("stored %q, want %q", got, tc.want)
					}
				})
			}
		})
	}
}

// The DESIGN's examples, spelled out.
func TestFeatureNameExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"255 × é accepted", strings.Repeat("é", 255), true},
		{"256 × é rejected", strings.Repeat("é", 256), false},
		{"255 × 日 accepted although 765 bytes", strings.Repeat("日", 255), true},
		{"256 × 日 rejected", strings.Repeat("日", 256), false},
		{"2 multibyte characters accepted", "日本", true},
		{"1 multibyte character rejected although 3 bytes", "日", false},
		{"1 two-byte character rejected", "é", false},
		{"single ASCII character rejected", "x", false},
		{"one character padded to two rejected", " x ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := shipgraph.FeatureCreate{Name: tt.in, ComplexityPoints: 1}
			err := in.Validate()
			if tt.ok {
				requireValid(t, err)
				return
			}
			requireInvalid(t, err, "name")
		})
	}
}

// U+2028 and U+2029 are line breaks that are neither control nor format
// characters; they are refused explicitly.
func TestUnicodeLineSeparatorsAreRejected(t *testing.T) {
	t.Parallel()
	for _, f := range textFields {
		if f.multiline {
			continue
		}
		for _, sep := range []struct{ name, s string }{{"line separator U+2028", "\u2028"}, {"paragraph separator U+2029", "\u2029"}} {
			t.Run(f.name+"/"+sep.name+" inside should be rejected", func(t *testing.T) {
				t.Parallel()
				_, err := f.validate("first" + sep.s + "second")
				requireInvalid(t, err, f.field)
			})
		}
	}
}
