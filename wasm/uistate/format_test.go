package uistate

import (
	"strings"
	"testing"
)

func TestFormatPayload(t *testing.T) {
	for _, c := range []struct {
		name    string
		payload string
		f       Format
		want    string
		used    Format
	}{
		{"auto json", `{"a":1,"b":[true]}`, FormatAuto, "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ]\n}", FormatJSON},
		{"auto text", "21.5 °C", FormatAuto, "21.5 °C", FormatText},
		{"auto number is text", "42", FormatAuto, "42", FormatText},
		{"auto binary", "\x00\x01AB", FormatAuto, "00000000  00 01 41 42" + strings.Repeat("   ", 12) + "   |..AB|\n", FormatHex},
		{"json that does not parse", "{nope", FormatJSON, "{nope", FormatText},
		{"text that is not utf-8", "\xff", FormatText, "00000000  ff" + strings.Repeat("   ", 15) + "   |.|\n", FormatHex},
		{"base64", "hello", FormatBase64, "aGVsbG8=", FormatBase64},
		{"empty", "", FormatAuto, "", FormatText},
	} {
		got, used := FormatPayload([]byte(c.payload), c.f)
		if got != c.want || used != c.used {
			t.Errorf("%s: got %q (%v), want %q (%v)", c.name, got, used, c.want, c.used)
		}
	}
}

func TestFormatPayloadLarge(t *testing.T) {
	p := strings.Repeat("x", maxShown+10)
	got, _ := FormatPayload([]byte(p), FormatText)
	if !strings.HasSuffix(got, "10 more bytes not shown") || len(got) > maxShown+40 {
		t.Errorf("large payload rendered as %d bytes ending %q", len(got), got[len(got)-30:])
	}
}

func TestHexDump(t *testing.T) {
	got := HexDump([]byte("0123456789abcdefXY"))
	want := "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n" +
		"00000010  58 59" + strings.Repeat("   ", 14) + "   |XY|\n"
	if got != want {
		t.Errorf("HexDump:\n%q\nwant\n%q", got, want)
	}
}

func TestPreview(t *testing.T) {
	for _, c := range []struct {
		p    string
		max  int
		want string
	}{
		{"hello", 10, "hello"},
		{"  a\n\n b\tc ", 10, "a b c"},
		{"abcdefghij", 4, "abcd…"},
		{"\x00\x01\x02\x03", 9, "00 01 02 …"},
		{"\x00\x01", 30, "00 01"},
		{"", 5, ""},
		{strings.Repeat("é", 50), 3, "ééé…"},
	} {
		if got := Preview([]byte(c.p), c.max); got != c.want {
			t.Errorf("Preview(%q, %d) = %q, want %q", c.p, c.max, got, c.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		if ParseFormat(f.String()) != f {
			t.Errorf("ParseFormat(%q) != %v", f.String(), f)
		}
	}
	if ParseFormat("nope") != FormatAuto {
		t.Error("unknown format must be auto")
	}
}
