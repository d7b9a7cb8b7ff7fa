package uistate

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// exported is one message of a JSON lines export.
type exported struct {
	Time    string `json:"time"`
	Topic   string `json:"topic"`
	QoS     byte   `json:"qos"`
	Retain  bool   `json:"retain,omitempty"`
	Dup     bool   `json:"dup,omitempty"`
	Payload string `json:"payload"`
	// Encoding is "base64" for a payload that is not UTF-8 text, which
	// Payload then holds in base64.
	Encoding string `json:"encoding,omitempty"`
}

// exportPayload returns the payload as text, or in base64 with "base64"
// when it is not UTF-8.
func exportPayload(p []byte) (string, string) {
	if utf8.Valid(p) {
		return string(p), ""
	}
	return base64.StdEncoding.EncodeToString(p), "base64"
}

// ExportJSONLines returns the messages the log shows (its filter
// applied), oldest first, one JSON object a line: time (RFC 3339 with
// milliseconds), topic, qos, retain, dup, payload (and encoding "base64"
// for a payload that is not UTF-8 text).
func (l *Log) ExportJSONLines() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i := range l.ViewLen() {
		m := l.ViewAt(i)
		p, e := exportPayload(m.Payload)
		enc.Encode(exported{Time: m.Time.UTC().Format(time.RFC3339Nano), Topic: m.Topic, QoS: m.QoS,
			Retain: m.Retain, Dup: m.Dup, Payload: p, Encoding: e}) // plain data: cannot fail
	}
	return b.Bytes()
}

// ExportCSV returns the messages the log shows, oldest first, as CSV with
// a header: time, topic, qos, retain, dup, payload, encoding.
func (l *Log) ExportCSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"time", "topic", "qos", "retain", "dup", "payload", "encoding"})
	for i := range l.ViewLen() {
		m := l.ViewAt(i)
		p, e := exportPayload(m.Payload)
		w.Write([]string{m.Time.UTC().Format(time.RFC3339Nano), m.Topic, strconv.Itoa(int(m.QoS)),
			strconv.FormatBool(m.Retain), strconv.FormatBool(m.Dup), p, e})
	}
	w.Flush() // a bytes.Buffer does not fail
	return b.Bytes()
}
