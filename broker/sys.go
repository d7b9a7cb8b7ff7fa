package broker

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file publishes the broker's state under $SYS/broker/, with the
// names Mosquitto uses (mosquitto(8), "Broker Status"), so that dashboards
// written for Mosquitto work unchanged; Tern's own figures are under
// $SYS/broker/tern/. Every Options.SysInterval the values are computed
// from Server.Metrics and each one that changed since it was last
// published is published again: retained, QoS 0, from the broker itself.
// $SYS messages are never written to the store (they describe this run of
// the broker), and clients cannot publish to $SYS (auth.go). Reading them
// goes through the Authorizer like any other topic; subscribing to "#" or
// "+/..." does not match them [MQTT-4.7.2-1] (topictree).
//
// Units are Mosquitto's: counts since start; "N seconds" for the uptime;
// the load/.../{1min,5min,15min} values are exponentially weighted moving
// averages of the rate per minute over 1, 5 and 15 minutes, updated each
// interval, printed with two decimals.

// SysPrefix is where the broker publishes its state.
const SysPrefix = "$SYS/broker/"

// sysPublisher is the background task that publishes $SYS; Shutdown
// stops it.
type sysPublisher struct {
	stopOnce sync.Once
	quit     chan struct{} // nil when $SYS is off
	done     chan struct{}

	mu     sync.Mutex // one tick at a time
	last   map[string]string
	prev   map[string]uint64 // counters at the last tick, for the loads
	prevAt time.Time
	loads  map[string]*[3]float64
}

// loadWindows are the windows of the load averages, as Mosquitto names them.
var loadWindows = [3]struct {
	name string
	secs float64
}{{"1min", 60}, {"5min", 300}, {"15min", 900}}

// startSys starts the $SYS publisher when Options.SysInterval is set.
func (s *Server) startSys() {
	every := s.opts.SysInterval
	if every <= 0 {
		return
	}
	p := &s.sys
	p.quit, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.safely("$SYS", func() { s.sysTick(time.Now()) })
			select {
			case <-t.C:
			case <-p.quit:
				return
			}
		}
	}()
}

// stop ends the publisher and waits for it.
func (p *sysPublisher) stop() {
	if p.quit == nil {
		return
	}
	p.stopOnce.Do(func() { close(p.quit) })
	<-p.done
}

// sysValue is one $SYS topic (below SysPrefix) and its payload.
type sysValue struct{ topic, value string }

// sysTick publishes the values that changed since the last tick and
// returns how many it published.
func (s *Server) sysTick(now time.Time) int {
	p := &s.sys
	p.mu.Lock()
	defer p.mu.Unlock()
	snap := s.Metrics()
	vals := s.sysValues(&snap)
	vals = append(vals, p.loadValues(&snap, now)...)
	if p.last == nil {
		p.last = make(map[string]string, len(vals))
	}
	n := 0
	for _, v := range vals {
		if old, ok := p.last[v.topic]; ok && old == v.value {
			continue
		}
		p.last[v.topic] = v.value
		s.publish(&Message{Topic: SysPrefix + v.topic, Payload: []byte(v.value), Retain: true})
		n++
	}
	return n
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }
func itoa(v int) string   { return strconv.Itoa(v) }

// sysValues returns the values that are not averages.
func (s *Server) sysValues(m *MetricsSnapshot) []sysValue {
	pubIn := m.PublishReceived[0] + m.PublishReceived[1] + m.PublishReceived[2]
	pubOut := m.PublishSent[0] + m.PublishSent[1] + m.PublishSent[2]
	total := m.SessionsOnline + m.SessionsOffline
	stored := m.Retained + m.Queued + m.Inflight
	vals := []sysValue{
		{"version", s.version()},
		{"uptime", strconv.FormatInt(int64(m.Uptime/time.Second), 10) + " seconds"},
		{"clients/total", itoa(total)},
		{"clients/maximum", itoa(m.SessionsMax)},
		{"clients/connected", itoa(m.SessionsOnline)},
		{"clients/active", itoa(m.SessionsOnline)}, // deprecated name, still published by Mosquitto 2.0
		{"clients/disconnected", itoa(m.SessionsOffline)},
		{"clients/inactive", itoa(m.SessionsOffline)}, // deprecated name
		{"clients/expired", u64(m.SessionsExpired)},
		{"messages/received", u64(m.PacketsReceived)},
		{"messages/sent", u64(m.PacketsSent)},
		{"messages/stored", itoa(stored)}, // deprecated name of store/messages/count
		{"messages/inflight", itoa(m.Inflight)},
		{"publish/messages/received", u64(pubIn)},
		{"publish/messages/sent", u64(pubOut)},
		{"publish/messages/dropped", u64(m.lost())},
		{"publish/bytes/received", u64(m.PublishBytesReceived)},
		{"publish/bytes/sent", u64(m.PublishBytesSent)},
		{"bytes/received", u64(m.BytesReceived)},
		{"bytes/sent", u64(m.BytesSent)},
		{"subscriptions/count", strconv.FormatInt(m.Subscriptions, 10)},
		{"shared_subscriptions/count", strconv.FormatInt(m.SharedSubscriptions, 10)},
		{"retained messages/count", itoa(m.Retained)},
		{"store/messages/count", itoa(stored)},
		{"store/messages/bytes", itoa(m.RetainedBytes)},
		{"tern/connections/current", itoa(m.Connections)},
		{"tern/connections/maximum", itoa(m.ConnectionsMax)},
		{"tern/messages/queued", itoa(m.Queued)},
		{"tern/store/commits", u64(m.CommitCount)},
		{"tern/store/errors", u64(m.StoreErrors)},
	}
	if m.StoreBytes >= 0 {
		vals = append(vals, sysValue{"tern/store/bytes", strconv.FormatInt(m.StoreBytes, 10)})
	}
	for i, name := range dropReasons {
		vals = append(vals, sysValue{"tern/drops/" + name, u64(m.Dropped[i])})
	}
	return vals
}

// lost is the number of messages dropped for a session (all drop reasons
// but "no subscribers"): Mosquitto's publish/messages/dropped.
func (m *MetricsSnapshot) lost() uint64 {
	var n uint64
	for i := dropQueueFullIdx; i < numDropReasons; i++ {
		n += m.Dropped[i]
	}
	return n
}

// loadValues updates the moving averages with the counters' growth since
// the last tick and returns them, and the mean store commit latency over
// the last interval.
func (p *sysPublisher) loadValues(m *MetricsSnapshot, now time.Time) []sysValue {
	series := []struct {
		name string
		v    uint64
	}{
		{"messages/received", m.PacketsReceived},
		{"messages/sent", m.PacketsSent},
		{"publish/received", m.PublishReceived[0] + m.PublishReceived[1] + m.PublishReceived[2]},
		{"publish/sent", m.PublishSent[0] + m.PublishSent[1] + m.PublishSent[2]},
		{"publish/dropped", m.lost()},
		{"bytes/received", m.BytesReceived},
		{"bytes/sent", m.BytesSent},
		{"connections", m.Connects},
		{"sockets", m.Sockets},
	}
	counters := make(map[string]uint64, len(series)+2)
	first := p.prev == nil
	dt := now.Sub(p.prevAt).Seconds()
	if p.loads == nil {
		p.loads = make(map[string]*[3]float64)
	}
	var vals []sysValue
	for _, sv := range series {
		name, v := sv.name, sv.v
		counters[name] = v
		l := p.loads[name]
		if l == nil {
			l = new([3]float64)
			p.loads[name] = l
		}
		if !first && dt > 0 {
			perMinute := float64(v-p.prev[name]) * 60 / dt
			for i, w := range loadWindows {
				e := math.Exp(-dt / w.secs)
				l[i] = l[i]*e + perMinute*(1-e)
			}
		}
		for i, w := range loadWindows {
			vals = append(vals, sysValue{"load/" + name + "/" + w.name, strconv.FormatFloat(l[i], 'f', 2, 64)})
		}
	}
	latency := 0.0
	if n := m.CommitCount - p.prev["commits"]; !first && n > 0 {
		latency = (m.CommitSeconds - float64(p.prev["commitNanos"])/1e9) / float64(n) * 1000
	}
	vals = append(vals, sysValue{"tern/store/commit_latency_ms", strconv.FormatFloat(latency, 'f', 3, 64)})
	counters["commits"], counters["commitNanos"] = m.CommitCount, uint64(m.CommitSeconds*1e9)
	p.prev, p.prevAt = counters, now
	return vals
}

// version is what $SYS/broker/version says.
func (s *Server) version() string {
	if s.opts.Version != "" {
		return s.opts.Version
	}
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return "tern version " + v
}

// presence publishes a client's connection or disconnection on
// $SYS/broker/clients/<id>/connected or .../disconnected, with
// Options.SysPresence. A client id that cannot be part of a topic name
// (with '+' or '#') gets no event.
func (c *conn) presence(connected bool, reason string) {
	s := c.srv
	if !s.opts.SysPresence || strings.ContainsAny(c.clientID, "+#") || c.clientID == "" {
		return
	}
	ev := struct {
		ClientID string `json:"clientid"`
		Username string `json:"username,omitempty"`
		Address  string `json:"address"`
		Protocol int    `json:"protocol"`
		Reason   string `json:"reason,omitempty"`
		Time     string `json:"ts"`
	}{c.clientID, c.who.Username, c.nc.RemoteAddr().String(), int(c.version), reason, time.Now().UTC().Format(time.RFC3339Nano)}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	what := "disconnected"
	if connected {
		what = "connected"
	}
	s.publish(&Message{Topic: fmt.Sprintf("%sclients/%s/%s", SysPrefix, c.clientID, what), Payload: b})
}
