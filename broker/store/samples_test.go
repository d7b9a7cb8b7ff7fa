package store

import (
	"github.com/ternmq/tern/codec"
)

// props returns forwarded properties marked present the way the decoder
// marks them, so that decoded records compare equal with reflect.DeepEqual.
func props() *codec.Properties {
	p := &codec.Properties{
		PayloadFormatIndicator: 1,
		ContentType:            "application/json",
		ResponseTopic:          "reply/to",
		CorrelationData:        []byte{0xde, 0xad},
		UserProperties:         []codec.UserProperty{{Key: "k", Value: "v"}, {Key: "k", Value: "v2"}, {Key: "", Value: ""}},
	}
	for _, id := range []codec.PropertyID{codec.PropPayloadFormatIndicator, codec.PropContentType, codec.PropResponseTopic, codec.PropCorrelationData} {
		p.Mark(id)
	}
	return p
}

// zeroProps are properties present with zero values.
func zeroProps() *codec.Properties {
	p := &codec.Properties{}
	for _, id := range []codec.PropertyID{codec.PropPayloadFormatIndicator, codec.PropContentType, codec.PropCorrelationData} {
		p.Mark(id)
	}
	return p
}

var messageSamples = []struct {
	name string
	rec  MessageRecord
}{
	{"message_empty", MessageRecord{}},
	{"message_plain", MessageRecord{Topic: "a/b", Payload: []byte("hello"), QoS: 1, From: "pub-1"}},
	{"message_full", MessageRecord{Topic: "sensors/+x/ünï", Payload: []byte{0, 1, 2, 255}, QoS: 2, Retain: true,
		Props: props(), Expires: 1_700_000_000_123_456_789, From: "c"}},
	{"message_zero_props", MessageRecord{Topic: "t", QoS: 0, Props: zeroProps(), Expires: -5}},
	{"message_empty_props", MessageRecord{Topic: "t", Props: &codec.Properties{}}},
}

var sessionSamples = []struct {
	name string
	rec  SessionRecord
}{
	{"session_empty", SessionRecord{}},
	{"session_v311", SessionRecord{Version: codec.V311, Expiry: 0xFFFFFFFF, Subs: []SubRecord{{Filter: "a/#", QoS: 1}}}},
	{"session_full", SessionRecord{Version: codec.V5, Expiry: 3600, Disconnected: 1_700_000_000_000_000_000,
		Subs: []SubRecord{
			{Filter: "$share/g/x/+", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2, ID: maxSubID},
			{Filter: "", QoS: 0, RetainHandling: 1, ID: 1},
		},
		Will:      &MessageRecord{Topic: "will", Payload: []byte("bye"), QoS: 1, Retain: true, Props: props(), From: "me"},
		WillDelay: 30, WillLife: 5_000_000_000, HasWillLife: true,
	}},
}

var queueSamples = []struct {
	name string
	rec  QueueRecord
}{
	{"queue_empty", QueueRecord{}},
	{"queue_plain", QueueRecord{MsgID: 42, QoS: 1}},
	{"queue_full", QueueRecord{MsgID: 1<<64 - 1, QoS: 2, Retain: true, Released: true, SubIDs: []int{1, maxSubID, 7}, Group: "$share/g/t"}},
}
