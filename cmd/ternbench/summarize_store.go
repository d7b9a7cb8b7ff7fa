package main

import (
	"math"
	"strings"
)

// The cases of the durable store: what compare.sh runs against the
// brokers with and without persistence (see bench/compare.sh).
func init() {
	cases = append(cases,
		caseSpec{"durable-fanin-qos1", "QoS 1 fan-in 16→1 into a persistent session, TCP", []rowSpec{
			{"acked msg/s", func(r *Report) float64 { return r.AckedPerSec }, fmtRate, "", false, nil},
			{"delivered msg/s", msgPerSec, fmtRate, "", false, nil},
			{"loss %", lossPct, fmtPct, "", true, nil},
		}},
		plainRate("store-fanin", "QoS 0 fan-in 8→1, TCP"),
		plainRate("store-fanout", "QoS 0 fan-out 1→16, TCP"),
		restartCase("restart", "restart after SIGTERM, S"),
		restartCase("restart-kill", "restart after SIGKILL, S"),
		caseSpec{"queued-mem", "memory per queued delivery, S", []rowSpec{
			{"RSS bytes/delivery", func(r *Report) float64 { return r.RSSPerQueued }, fmtPerQ, "", false, nil},
			{"heap bytes/delivery", heapPerQueued, fmtPerQ, "", false, nil},
		}},
	)
}

// heapPerQueued is NaN (not measured) for a broker without a Go heap.
func heapPerQueued(r *Report) float64 {
	if r.HeapAfterB == 0 {
		return math.NaN()
	}
	return r.HeapPerQueued
}

var fmtPerQ = func(x float64) string { return human(x) }

// plainRate is a throughput case without a target.
func plainRate(name, title string) caseSpec {
	return caseSpec{name, title, []rowSpec{{"msg/s", msgPerSec, fmtRate, "", false, nil}, {"loss %", lossPct, fmtPct, "", true, nil}}}
}

func restartCase(name, title string) caseSpec {
	return caseSpec{name, title, []rowSpec{
		{"ready ms", func(r *Report) float64 { return r.ReadyMs }, fmtMs, "", false, nil},
		{"shutdown ms", func(r *Report) float64 { return r.ShutdownMs }, fmtMs, "", false, nil},
		{"RSS KiB at ready", func(r *Report) float64 { return float64(r.RSSReadyKB) }, fmtRate, "", false, nil},
		{"RSS KiB full", func(r *Report) float64 { return float64(r.RSSFullKB) }, fmtRate, "", false, nil},
		{"recovered % (sample)", recoveredPct, fmtPct, "", true, nil},
		{"fill msg/s", func(r *Report) float64 { return r.FillPerSec }, fmtRate, "", false, nil},
	}}
}

// recoveredPct is the share of session 0's queued messages and of the
// retained messages that came back after the restart.
func recoveredPct(r *Report) float64 {
	want := float64(r.Queued + r.Retained)
	if want == 0 {
		return 0
	}
	return 100 * float64(r.RecoveredQueued+r.RecoveredRetained) / want
}

// authCase is an auth-N case of compare.sh: the connect-rate scenario
// against a password file of $7$ hashes with N iterations.
func authCase(name, iterations string) caseSpec {
	return caseSpec{name, "CONNECT with password, $7$ " + iterations + " iterations, TCP, U", []rowSpec{
		{"connects/s, first logins", func(r *Report) float64 { return r.ConnectPerSec }, fmtRate, "", false, nil},
		{"p50 ms, first logins", func(r *Report) float64 { return r.P50ms }, fmtMs, "", false, nil},
		{"p99 ms, first logins", func(r *Report) float64 { return r.P99ms }, fmtMs, "", false, nil},
		{"broker CPU µs/login, first", func(r *Report) float64 { return r.BrokerUsPerLogin }, fmtRate, "", false, nil},
		{"connects/s, repeat logins", func(r *Report) float64 { return r.WarmPerSec }, fmtRate, "", false, nil},
		{"p50 ms, repeat logins", func(r *Report) float64 { return r.WarmP50ms }, fmtMs, "", false, nil},
		{"p99 ms, repeat logins", func(r *Report) float64 { return r.WarmP99ms }, fmtMs, "", false, nil},
	}}
}

// specFor is the spec of a case without a built-in one: the open-loop
// cases (openloop-tcp-20k, openloop-ws-50k, ...) by their prefix, anything
// else throughput only.
func specFor(name string) caseSpec {
	if n, ok := strings.CutPrefix(name, "auth-"); ok {
		return authCase(name, n)
	}
	if rest, ok := strings.CutPrefix(name, "openloop-"); ok {
		transport, rate, _ := strings.Cut(rest, "-")
		t := "TCP"
		if transport == "ws" {
			t = "WebSocket"
		}
		return caseSpec{name, "open-loop QoS 1 fan-in 8→1 at " + rate + " msg/s offered, " + t, []rowSpec{
			{"delivered msg/s", msgPerSec, fmtRate, "", false, nil},
			{"skipped %", func(r *Report) float64 { return r.SkippedPct }, fmtPct, "", true, nil},
			{"loss %", lossPct, fmtPct, "", true, nil},
			{"p50 ms", func(r *Report) float64 { return r.P50ms }, fmtMs, "", false, nil},
			{"p99 ms", func(r *Report) float64 { return r.P99ms }, fmtMs, "", false, nil},
		}}
	}
	return plainRate(name, name)
}
