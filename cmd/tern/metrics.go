package main

import (
	"crypto/x509"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
)

// This file serves /metrics in the Prometheus text format. The broker
// counts with its own atomics (broker/metrics.go); the collector below
// reads them when Prometheus scrapes, so the broker's hot path never
// touches the Prometheus library. Each daemon has its own registry: no
// global state.

// desc makes the descriptor of a tern_ family.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("tern_"+name, help, labels, nil)
}

// The families, with the types the names promise: _total are counters.
var (
	descUptime         = desc("uptime_seconds", "Seconds since the broker started.")
	descConns          = desc("connections", "Open network connections.")
	descConnsMax       = desc("connections_max", "The most network connections open at once.")
	descSockets        = desc("connections_accepted_total", "Network connections accepted.")
	descSessions       = desc("sessions", "Sessions by state: online (a client is connected) or offline (kept for a persistent client).", "state")
	descSessionsMax    = desc("sessions_online_max", "The most sessions online at once.")
	descExpired        = desc("sessions_expired_total", "Sessions ended by their expiry interval.")
	descConnects       = desc("connect_attempts_total", "CONNECT packets received.")
	descRefused        = desc("connack_refused_total", "CONNECTs refused, by CONNACK reason (5.0 names; a 3.1.1 return code counts as its 5.0 equivalent).", "reason")
	descAuthFail       = desc("authentication_failures_total", "CONNECTs and re-authentications refused by the authenticator.")
	descDenied         = desc("authorization_denied_total", "Publishes, subscriptions and deliveries refused by the authorizer, by access.", "access")
	descDisconnects    = desc("disconnects_total", "Connections ended, by reason.", "reason")
	descPubIn          = desc("publish_received_total", "PUBLISH packets received from clients, by QoS.", "qos")
	descPubOut         = desc("publish_sent_total", "PUBLISH packets sent to clients, by QoS.", "qos")
	descPubBytesIn     = desc("publish_received_bytes_total", "Payload bytes of the PUBLISH packets received.")
	descPubBytesOut    = desc("publish_sent_bytes_total", "Payload bytes of the PUBLISH packets sent.")
	descPktsIn         = desc("packets_received_total", "MQTT packets received.")
	descPktsOut        = desc("packets_sent_total", "MQTT packets sent.")
	descBytesIn        = desc("received_bytes_total", "Bytes received from clients.")
	descBytesOut       = desc("sent_bytes_total", "Bytes sent to clients.")
	descDropped        = desc("messages_dropped_total", "Messages not delivered, by reason.", "reason")
	descSubs           = desc("subscriptions", "Subscriptions, shared ones included.")
	descSharedSubs     = desc("shared_subscriptions", "Shared subscriptions ($share/...).")
	descRetained       = desc("retained_messages", "Retained messages.")
	descRetainedBytes  = desc("retained_bytes", "Topic and payload bytes of the retained messages.")
	descQueued         = desc("queued_messages", "Messages queued for sessions.")
	descInflight       = desc("inflight_messages", "QoS 1 and 2 messages sent to clients and not yet acknowledged.")
	descTakeovers      = desc("session_takeovers_total", "Sessions taken over by a new connection with the same client id.")
	descCommit         = desc("store_commit_duration_seconds", "Time of each synced commit to the store.")
	descStoreErrors    = desc("store_errors_total", "Failed store writes.")
	descStoreSize      = desc("store_size_bytes", "Size of the store on disk.")
	descCertExpiry     = desc("tls_certificate_expiry_timestamp_seconds", "When the TLS certificate expires, as a Unix time.", "cert")
	descDefaultRefusal = []codec.ReasonCode{codec.UnsupportedProtocolVersion, codec.ClientIdentifierNotValid,
		codec.BadUserNameOrPassword, codec.NotAuthorized, codec.ServerUnavailable, codec.QuotaExceeded,
		codec.BadAuthenticationMethod, codec.TopicNameInvalid, codec.ProtocolError, codec.MalformedPacket}
)

// collector reads the broker's counters at scrape time.
type collector struct {
	srv *broker.Server
	tls *tlsFiles // nil without TLS
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUptime, descConns, descConnsMax, descSockets, descSessions,
		descSessionsMax, descExpired, descConnects, descRefused, descAuthFail, descDenied, descDisconnects,
		descPubIn, descPubOut, descPubBytesIn, descPubBytesOut, descPktsIn, descPktsOut, descBytesIn,
		descBytesOut, descDropped, descSubs, descSharedSubs, descRetained, descRetainedBytes, descQueued,
		descInflight, descTakeovers, descCommit, descStoreErrors, descStoreSize, descCertExpiry} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	m := c.srv.Metrics()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descUptime, m.Uptime.Seconds())
	gauge(descConns, float64(m.Connections))
	gauge(descConnsMax, float64(m.ConnectionsMax))
	counter(descSockets, m.Sockets)
	gauge(descSessions, float64(m.SessionsOnline), "online")
	gauge(descSessions, float64(m.SessionsOffline), "offline")
	gauge(descSessionsMax, float64(m.SessionsMax))
	counter(descExpired, m.SessionsExpired)
	counter(descConnects, m.Connects)
	for _, rc := range descDefaultRefusal {
		if _, ok := m.ConnackRefused[rc]; !ok {
			m.ConnackRefused[rc] = 0
		}
	}
	for rc, n := range m.ConnackRefused {
		counter(descRefused, n, reasonLabel(rc))
	}
	counter(descAuthFail, m.AuthFailures)
	for a, n := range m.Denied {
		counter(descDenied, n, a.String())
	}
	for i, n := range m.Disconnects {
		counter(descDisconnects, n, broker.DisconnectReasons()[i])
	}
	for q := range 3 {
		counter(descPubIn, m.PublishReceived[q], strconv.Itoa(q))
		counter(descPubOut, m.PublishSent[q], strconv.Itoa(q))
	}
	counter(descPubBytesIn, m.PublishBytesReceived)
	counter(descPubBytesOut, m.PublishBytesSent)
	counter(descPktsIn, m.PacketsReceived)
	counter(descPktsOut, m.PacketsSent)
	counter(descBytesIn, m.BytesReceived)
	counter(descBytesOut, m.BytesSent)
	for i, n := range m.Dropped {
		counter(descDropped, n, broker.DropReasons()[i])
	}
	gauge(descSubs, float64(m.Subscriptions))
	gauge(descSharedSubs, float64(m.SharedSubscriptions))
	gauge(descRetained, float64(m.Retained))
	gauge(descRetainedBytes, float64(m.RetainedBytes))
	gauge(descQueued, float64(m.Queued))
	gauge(descInflight, float64(m.Inflight))
	counter(descTakeovers, m.Takeovers)
	buckets := make(map[float64]uint64, len(m.CommitBuckets))
	for _, b := range m.CommitBuckets {
		buckets[b.UpperBound] = b.Count
	}
	ch <- prometheus.MustNewConstHistogram(descCommit, m.CommitCount, m.CommitSeconds, buckets)
	counter(descStoreErrors, m.StoreErrors)
	if m.StoreBytes >= 0 {
		gauge(descStoreSize, float64(m.StoreBytes))
	}
	if c.tls != nil {
		if leaf := c.tls.leaf(); leaf != nil {
			gauge(descCertExpiry, float64(leaf.NotAfter.Unix()), c.tls.cert)
		}
	}
}

// reasonLabel names a reason code for a label: "not_authorized".
func reasonLabel(rc codec.ReasonCode) string {
	s := strings.ToLower(rc.String())
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// leaf returns the certificate in force, or nil.
func (f *tlsFiles) leaf() *x509.Certificate {
	cfg := f.cur.Load()
	if cfg == nil || len(cfg.Certificates) == 0 {
		return nil
	}
	c := cfg.Certificates[0]
	if c.Leaf != nil {
		return c.Leaf
	}
	if len(c.Certificate) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

// metricsHandler returns the /metrics handler: the broker's families and
// the Go runtime and process collectors. With auth (--metrics-auth) a
// scrape needs HTTP basic credentials of a user of the password file.
func metricsHandler(srv *broker.Server, files *tlsFiles, sec *security, auth bool, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{srv: srv, tls: files},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	})
	if !auth {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := sec.basicAuth(w, r, "tern metrics"); ok {
			h.ServeHTTP(w, r)
		}
	})
}
