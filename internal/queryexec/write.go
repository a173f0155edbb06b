package queryexec

import (
	"strconv"
	"time"
)

// The JSON appenders write values exactly as gqlgen's marshalers do, so
// that an answer is the same bytes whichever executor produced it.

const hex = "0123456789ABCDEF"

// appendString appends s as a JSON string, escaped as gqlgen's
// MarshalString escapes it: quotes, backslashes and control characters
// only; everything else, invalid UTF-8 included, as it is. gqlgen scans
// runes, this scans bytes: the bytes it escapes are never part of a
// multi-byte UTF-8 sequence, so both find the same ones.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '\t':
			buf = append(buf, `\t`...)
		case '\r':
			buf = append(buf, `\r`...)
		case '\n':
			buf = append(buf, `\n`...)
		case '\\':
			buf = append(buf, `\\`...)
		case '"':
			buf = append(buf, `\"`...)
		default:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// appendTime appends t as gqlgen's MarshalTime does: RFC 3339 with
// nanoseconds, quoted (the format has nothing to escape).
func appendTime(buf []byte, t time.Time) []byte {
	buf = append(buf, '"')
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"')
}

func appendInt(buf []byte, i int) []byte { return strconv.AppendInt(buf, int64(i), 10) }

func appendBool(buf []byte, b bool) []byte { return strconv.AppendBool(buf, b) }
