package bridge

import "github.com/ternmq/tern/codec"

// Prop is one property of a received packet, named as MQTT.js names it.
// Value is a float64, string, bool, []byte, []float64 (Subscription
// Identifiers) or []UserProp.
type Prop struct {
	Name  string
	Value any
}

// UserProp is one key of the User Properties with its values in order:
// MQTT.js gives a key's single value as a string and repeated values as an
// array.
type UserProp struct {
	Key    string
	Values []string
}

// UserProps groups user properties by key, keys in order of first
// appearance.
func UserProps(ups []codec.UserProperty) []UserProp {
	var out []UserProp
	for _, u := range ups {
		i := len(out) - 1
		for ; i >= 0 && out[i].Key != u.Key; i-- {
		}
		if i < 0 {
			out = append(out, UserProp{Key: u.Key})
			i = len(out) - 1
		}
		out[i].Values = append(out[i].Values, u.Value)
	}
	return out
}

// PublishProps lists the properties of a received PUBLISH, nil when it has
// none (always for MQTT 3.1.1). The client resolves Topic Aliases, so
// topicAlias never appears.
func PublishProps(p *codec.Properties) []Prop {
	var ps []Prop
	if p.Has(codec.PropPayloadFormatIndicator) {
		ps = append(ps, Prop{"payloadFormatIndicator", p.PayloadFormatIndicator == 1})
	}
	if p.Has(codec.PropMessageExpiryInterval) {
		ps = append(ps, Prop{"messageExpiryInterval", float64(p.MessageExpiryInterval)})
	}
	ps = appendStr(ps, "contentType", p.ContentType)
	ps = appendStr(ps, "responseTopic", p.ResponseTopic)
	if p.CorrelationData != nil {
		ps = append(ps, Prop{"correlationData", p.CorrelationData})
	}
	if n := len(p.SubscriptionIdentifiers); n > 0 {
		ids := make([]float64, n)
		for i, id := range p.SubscriptionIdentifiers {
			ids[i] = float64(id)
		}
		ps = append(ps, Prop{"subscriptionIdentifier", ids})
	}
	if len(p.UserProperties) > 0 {
		ps = append(ps, Prop{"userProperties", UserProps(p.UserProperties)})
	}
	return ps
}

// ConnackProps lists the properties of a CONNACK, nil when it has none.
func ConnackProps(p *codec.Properties) []Prop {
	var ps []Prop
	num := func(id codec.PropertyID, name string, v uint32) {
		if p.Has(id) {
			ps = append(ps, Prop{name, float64(v)})
		}
	}
	flag := func(id codec.PropertyID, name string, v byte) {
		if p.Has(id) {
			ps = append(ps, Prop{name, v == 1})
		}
	}
	num(codec.PropSessionExpiryInterval, "sessionExpiryInterval", p.SessionExpiryInterval)
	num(codec.PropReceiveMaximum, "receiveMaximum", uint32(p.ReceiveMaximum))
	num(codec.PropMaximumQoS, "maximumQoS", uint32(p.MaximumQoS))
	flag(codec.PropRetainAvailable, "retainAvailable", p.RetainAvailable)
	num(codec.PropMaximumPacketSize, "maximumPacketSize", p.MaximumPacketSize)
	ps = appendStr(ps, "assignedClientIdentifier", p.AssignedClientIdentifier)
	num(codec.PropTopicAliasMaximum, "topicAliasMaximum", uint32(p.TopicAliasMaximum))
	ps = appendStr(ps, "reasonString", p.ReasonString)
	flag(codec.PropWildcardSubscriptionAvailable, "wildcardSubscriptionAvailable", p.WildcardSubscriptionAvailable)
	flag(codec.PropSubscriptionIdentifierAvailable, "subscriptionIdentifiersAvailable", p.SubscriptionIdentifierAvailable)
	flag(codec.PropSharedSubscriptionAvailable, "sharedSubscriptionAvailable", p.SharedSubscriptionAvailable)
	num(codec.PropServerKeepAlive, "serverKeepAlive", uint32(p.ServerKeepAlive))
	ps = appendStr(ps, "responseInformation", p.ResponseInformation)
	ps = appendStr(ps, "serverReference", p.ServerReference)
	if len(p.UserProperties) > 0 {
		ps = append(ps, Prop{"userProperties", UserProps(p.UserProperties)})
	}
	return ps
}

func appendStr(ps []Prop, name, v string) []Prop {
	if v != "" {
		ps = append(ps, Prop{name, v})
	}
	return ps
}
