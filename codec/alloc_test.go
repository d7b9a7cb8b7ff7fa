package codec

import (
	"bytes"
	"reflect"
	"testing"
)

// The hot path — PUBLISH and PUBACK through a Reader and through Append, and
// topic matching — allocates nothing in steady state. These tests prove it
// the way tailscale's derp tests do: testing.AllocsPerRun(...) must be 0.

func wantNoAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(1000, f); n != 0 {
		t.Errorf("%s: %v allocations per run, want 0", name, n)
	}
}

// TestReaderPublishNoAllocs reads PUBLISH packets from an endless stream: after
// the first packet (which sizes the buffer, creates the reusable packet and
// interns the strings), a read allocates nothing.
func TestReaderPublishNoAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Version
		p    *Publish
	}{
		{"V311", V311, hotPublishV311()},
		{"V5Props", V5, hotPublishV5()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := mustAppend(t, tc.p, tc.v)
			r := NewReader(&loopReader{data: want}, 0)
			r.SetVersion(tc.v)
			var got []byte
			read := func() {
				p, err := r.ReadPacket()
				if err != nil {
					t.Fatal(err)
				}
				if got, err = p.Append(got[:0], tc.v); err != nil {
					t.Fatal(err)
				}
			}
			read()
			if !bytes.Equal(got, want) {
				t.Fatalf("read back\n% x\nwant\n% x", got, want)
			}
			wantNoAllocs(t, "Reader.ReadPacket + Publish.Append", read)
			if !bytes.Equal(got, want) {
				t.Fatalf("after the loop, read back\n% x\nwant\n% x", got, want)
			}
		})
	}
}

// TestReaderPubackNoAllocs reads PUBACKs of every form: the 2-byte short
// form, with a reason code, and with a reason code and properties.
func TestReaderPubackNoAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Version
		p    *Puback
	}{
		{"V311", V311, &Puback{Ack{PacketID: 7}}},
		{"V5", V5, &Puback{Ack{PacketID: 7}}},
		{"V5Reason", V5, &Puback{Ack{PacketID: 7, ReasonCode: NoMatchingSubscribers}}},
		{"V5Props", V5, &Puback{Ack{PacketID: 7, ReasonCode: QuotaExceeded,
			Properties: Properties{ReasonString: "queue full", UserProperties: []UserProperty{{"k", "v"}}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(&loopReader{data: mustAppend(t, tc.p, tc.v)}, 0)
			r.SetVersion(tc.v)
			read := func() {
				p, err := r.ReadPacket()
				if err != nil {
					t.Fatal(err)
				}
				if a, ok := p.(*Puback); !ok || a.PacketID != 7 || a.ReasonCode != tc.p.ReasonCode {
					t.Fatalf("read %#v", p)
				}
			}
			read()
			wantNoAllocs(t, "Reader.ReadPacket", read)
		})
	}
}

func TestPublishAppendNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 1024)
	for _, tc := range []struct {
		name string
		v    Version
		p    *Publish
	}{
		{"V311", V311, hotPublishV311()},
		{"V5Props", V5, hotPublishV5()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantNoAllocs(t, "Publish.Append", func() {
				var err error
				if buf, err = tc.p.Append(buf[:0], tc.v); err != nil {
					t.Fatal(err)
				}
			})
			wantNoAllocs(t, "Publish.Size", func() {
				if _, err := tc.p.Size(tc.v); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func TestPubackAppendNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	for _, tc := range []struct {
		name string
		v    Version
		p    *Puback
	}{
		{"V311", V311, &Puback{Ack{PacketID: 7}}},
		{"V5", V5, &Puback{Ack{PacketID: 7}}},
		{"V5Reason", V5, &Puback{Ack{PacketID: 7, ReasonCode: NotAuthorized}}},
		{"V5Props", V5, &Puback{Ack{PacketID: 7, ReasonCode: QuotaExceeded,
			Properties: Properties{ReasonString: "queue full"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantNoAllocs(t, "Puback.Append", func() {
				var err error
				if buf, err = tc.p.Append(buf[:0], tc.v); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func TestMatchTopicNoAllocs(t *testing.T) {
	for _, mc := range matchCases {
		if got := MatchTopic(mc.filter, mc.topic); got != mc.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", mc.filter, mc.topic, got, mc.want)
		}
	}
	wantNoAllocs(t, "MatchTopic", func() {
		for _, mc := range matchCases {
			MatchTopic(mc.filter, mc.topic)
		}
	})
	wantNoAllocs(t, "ValidTopicName", func() {
		if ValidTopicName("sensors/building-7/floor-3/room-12/temperature") != nil {
			t.Fatal("invalid")
		}
	})
}

// TestPropertiesEmptyCoversEveryField guards the fast path of
// Properties.empty, which lists the fields by hand: setting any one
// exported field, or marking any property, makes the properties non-empty
// and agrees with Has.
func TestPropertiesEmptyCoversEveryField(t *testing.T) {
	if !(&Properties{}).empty() {
		t.Fatal("zero Properties are not empty")
	}
	typ := reflect.TypeFor[Properties]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		var p Properties
		v := reflect.ValueOf(&p).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.Uint8, reflect.Uint16, reflect.Uint32:
			v.SetUint(1)
		case reflect.String:
			v.SetString("x")
		case reflect.Slice:
			v.Set(reflect.MakeSlice(f.Type, 1, 1))
			if f.Type.Elem().Kind() == reflect.Int {
				v.Index(0).SetInt(1)
			}
		default:
			t.Fatalf("field %s of kind %v: teach this test about it", f.Name, f.Type.Kind())
		}
		if p.empty() {
			t.Errorf("Properties with only %s set are empty", f.Name)
		}
		has := 0
		for _, id := range propertyOrder {
			if p.Has(id) {
				has++
			}
		}
		if has != 1 {
			t.Errorf("Properties with only %s set have %d properties", f.Name, has)
		}
	}
	// Empty but non-nil binary data is present, and so is a mark.
	if (&Properties{CorrelationData: []byte{}}).empty() {
		t.Error("empty Correlation Data is not encoded")
	}
	for _, id := range propertyOrder {
		var p Properties
		p.Mark(id)
		if p.empty() || !p.Has(id) {
			t.Errorf("marked %v: empty %v, Has %v", id, p.empty(), p.Has(id))
		}
	}
}
