package bridge

import (
	"reflect"
	"testing"

	"github.com/ternmq/tern/codec"
)

func TestPublishProps(t *testing.T) {
	if ps := PublishProps(&codec.Properties{}); ps != nil {
		t.Errorf("no properties: %v", ps)
	}
	p := codec.Properties{
		PayloadFormatIndicator: 1, MessageExpiryInterval: 30, ContentType: "application/json",
		ResponseTopic: "r", CorrelationData: []byte{1}, SubscriptionIdentifiers: []int{3, 4},
		UserProperties: []codec.UserProperty{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "a", Value: "3"}},
	}
	want := []Prop{
		{"payloadFormatIndicator", true},
		{"messageExpiryInterval", 30.0},
		{"contentType", "application/json"},
		{"responseTopic", "r"},
		{"correlationData", []byte{1}},
		{"subscriptionIdentifier", []float64{3, 4}},
		{"userProperties", []UserProp{{"a", []string{"1", "3"}}, {"b", []string{"2"}}}},
	}
	if got := PublishProps(&p); !reflect.DeepEqual(got, want) {
		t.Errorf("PublishProps:\n got %v\nwant %v", got, want)
	}
}

func TestConnackProps(t *testing.T) {
	var p codec.Properties
	p.MaximumQoS = 1
	p.RetainAvailable = 0
	p.Mark(codec.PropRetainAvailable)
	p.AssignedClientIdentifier = "auto-1"
	p.TopicAliasMaximum = 10
	p.ServerKeepAlive = 30
	want := []Prop{
		{"maximumQoS", 1.0},
		{"retainAvailable", false},
		{"assignedClientIdentifier", "auto-1"},
		{"topicAliasMaximum", 10.0},
		{"serverKeepAlive", 30.0},
	}
	if got := ConnackProps(&p); !reflect.DeepEqual(got, want) {
		t.Errorf("ConnackProps:\n got %v\nwant %v", got, want)
	}
}
