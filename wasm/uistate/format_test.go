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

func TestPreviewAs(t *testing.T) {
	bin := []byte{0x00, 0x01, 0xff, 0xfe}
	long := []byte(strings.Repeat("ab ", 100))
	for _, c := range []struct {
		p    []byte
		f    Format
		max  int
		want string
	}{
		{bin, FormatAuto, 60, "00 01 ff fe"},
		{bin, FormatHex, 60, "00 01 ff fe"},
		{bin, FormatHex, 6, "00 01 …"},
		{bin, FormatBase64, 60, "AAH//g=="},
		{bin, FormatText, 60, "\uFFFD"}, // a run of bad bytes is one U+FFFD; control bytes are dropped
		{[]byte("héllo\n  wörld"), FormatText, 60, "héllo wörld"},
		{[]byte("héllo\n  wörld"), FormatHex, 60, "68 c3 a9 6c 6c 6f 0a 20 20 77 c3 b6 72 6c 64"},
		{[]byte(`{"a": 1}`), FormatJSON, 60, `{"a": 1}`},
		{long, FormatAuto, 5, "ab ab…"},
		{long, FormatText, 5, "ab ab…"},
		{nil, FormatHex, 10, ""},
	} {
		if got := PreviewAs(c.p, c.f, c.max); got != c.want {
			t.Errorf("PreviewAs(%q, %v, %d) = %q, want %q", c.p, c.f, c.max, got, c.want)
		}
	}
}

func TestFormatPayloadLimit(t *testing.T) {
	big := []byte(`{"k":"` + strings.Repeat("x", 100) + `"}`)
	text, used, cut := FormatPayloadLimit(big, FormatAuto, 20)
	if !cut || used != FormatText || !strings.HasPrefix(text, `{"k":"xxxx`) || !strings.HasSuffix(text, "… 88 more bytes") {
		t.Errorf("cut JSON: %q, %v, %v", text, used, cut)
	}
	text, used, cut = FormatPayloadLimit(big, FormatAuto, 0)
	if cut || used != FormatJSON || !strings.Contains(text, `"k": "xxx`) {
		t.Errorf("all of it: %q, %v, %v", text, used, cut)
	}
	if text, used, _ := FormatPayloadLimit([]byte{1, 2, 3}, FormatAuto, 2); used != FormatHex || !strings.Contains(text, "01 02") {
		t.Errorf("binary: %q, %v", text, used)
	}
}
