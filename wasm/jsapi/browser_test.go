//go:build !js

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/chromedp"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestBrowser runs the JS API in headless chromium: every method
// of the API, its events and errors, the custom elements, the callbacks
// left after 1,000 subscribe/unsubscribe cycles, and the example dashboard
// (index.html) served by the broker and from other origins.
func TestBrowser(t *testing.T) {
	needWasm(t)
	b := startBrowser(t)
	e := newEnv(t)
	t.Logf("broker site %s, allowed origin %s, foreign origin %s", e.site.URL, e.allowed.URL, e.foreign.URL)

	t.Run("API", func(t *testing.T) { testAPI(t, b, e) })
	t.Run("SeveralClients", func(t *testing.T) { testSeveralClients(t, b, e) })
	t.Run("GoInterop", func(t *testing.T) { testGoInterop(t, b, e) })
	t.Run("Errors", func(t *testing.T) { testErrors(t, b, e) })
	t.Run("ClosedConnection", func(t *testing.T) { testClosedConnection(t, b, e) })
	t.Run("Reconnect", func(t *testing.T) { testReconnect(t, b, e) })
	t.Run("Elements", func(t *testing.T) { testElements(t, b, e) })
	t.Run("NoGrowth", func(t *testing.T) { testNoGrowth(t, b, e) })
	t.Run("Dashboard", func(t *testing.T) { testDashboard(t, b, e) })
	t.Run("DashboardOtherOrigin", func(t *testing.T) { testDashboardOtherOrigin(t, b, e) })
	t.Run("DashboardRefusedOrigin", func(t *testing.T) { testDashboardRefusedOrigin(t, b, e) })
}

// testAPI: load, connect, on, subscribe (with options and without),
// publish (text, bytes, numbers, JSON, QoS 0/1/2, retained, 5.0
// properties), unsubscribe, filters shared by listeners, stats, end.
func testAPI(t *testing.T, b *browser, e *env) {
	p := b.tab(t)
	p.open(e.site.URL + "/test")
	p.run(e, `
const tern = await Tern.load();
T.check(tern === await Tern.load(), 'Tern.load() gives the same API each time');
const c = await tern.connect(WS, {clientId: 'api-1', keepalive: 30});
T.eq(c.clientId, 'api-1', 'clientId');
T.check(c.connected && !c.ended, 'connected after connect()');
T.eq(c.connack.sessionPresent, false, 'connack.sessionPresent');
const [ack] = await T.event(c, 'connect');
T.eq(ack.clientId, 'api-1', 'the first connect event carries the CONNACK');

// Text at each QoS.
const q = T.queue();
const unsubscribe = await c.subscribe('api/m/+', {qos: 2}, q);
T.eq(typeof unsubscribe, 'function', 'subscribe resolves with a function');
T.eq(unsubscribe.qos, 2, 'granted QoS');
for (const qos of [0, 1, 2]) {
  await c.publish('api/m/text', 'hello ' + qos, {qos});
  const m = await q.next('text at QoS ' + qos);
  T.eq(m.topic, 'api/m/text', 'topic');
  T.check(m.payload instanceof Uint8Array, 'the payload is a Uint8Array');
  T.check(m.payload instanceof tern.Payload, 'the payload is a Tern.Payload');
  T.eq(m.payload.text(), 'hello ' + qos, 'payload.text()');
  T.eq(String(m.payload), 'hello ' + qos, 'String(payload)');
  T.eq(Tern.text(m.payload), 'hello ' + qos, 'Tern.text(payload)');
  T.eq([m.packet.cmd, m.packet.topic, m.packet.qos, m.packet.retain, m.packet.dup], ['publish', 'api/m/text', qos, false, false], 'packet');
  T.check(m.packet.payload === m.payload, 'packet.payload');
}

// Bytes, an ArrayBuffer, a number, JSON, an empty payload.
const bin = Uint8Array.from({length: 256}, (_, i) => i);
await c.publish('api/m/bin', bin, {qos: 1});
T.eq(Array.from((await q.next('bytes')).payload), Array.from(bin), 'binary payload');
await c.publish('api/m/buf', bin.buffer.slice(250), {qos: 1});
T.eq(Array.from((await q.next('ArrayBuffer')).payload), [250, 251, 252, 253, 254, 255], 'ArrayBuffer payload');
await c.publish('api/m/num', 42);
T.eq((await q.next('number')).payload.text(), '42', 'a number is sent as text');
await c.publish('api/m/json', JSON.stringify({a: {b: [1, 2]}}), {qos: 1});
T.eq((await q.next('JSON')).payload.json().a.b[1], 2, 'payload.json()');
await c.publish('api/m/empty', '', {qos: 1});
T.eq((await q.next('empty')).payload.length, 0, 'empty payload');
// Beyond the WebSocket library's default read limit of 32 KiB.
const big = new Uint8Array(200 * 1024).fill(7);
await c.publish('api/m/big', big, {qos: 1});
const mbig = await q.next('200 KiB');
T.check(mbig.payload.length === big.length && mbig.payload.every((x) => x === 7), '200 KiB payload');

// MQTT 5.0 properties, both ways.
await c.publish('api/m/props', 'p', {qos: 1, properties: {
  contentType: 'text/plain', responseTopic: 'api/reply', correlationData: 'abc',
  userProperties: {k: 'v', multi: ['1', '2']}, payloadFormatIndicator: true, messageExpiryInterval: 60}});
const mp = await q.next('properties');
const pr = mp.packet.properties || {};
T.eq(pr.contentType, 'text/plain', 'contentType');
T.eq(pr.responseTopic, 'api/reply', 'responseTopic');
T.eq(pr.correlationData instanceof Uint8Array ? Tern.text(pr.correlationData) : pr.correlationData, 'abc', 'correlationData');
T.eq(pr.userProperties, {k: 'v', multi: ['1', '2']}, 'userProperties');
T.eq(pr.payloadFormatIndicator, true, 'payloadFormatIndicator');
T.check(pr.messageExpiryInterval > 0 && pr.messageExpiryInterval <= 60, 'messageExpiryInterval ' + pr.messageExpiryInterval);
T.eq(typeof pr.subscriptionIdentifier, 'number', 'subscriptionIdentifier');

// Retained messages come on subscribe, flagged; subscribe(filter, cb).
await c.publish('api/r', 'kept', {qos: 1, retain: true});
const qr = T.queue();
const unR = await c.subscribe('api/r', qr);
const mr = await qr.next('the retained message');
T.eq([mr.payload.text(), mr.packet.retain], ['kept', true], 'retained message on subscribe');
await c.publish('api/r', '', {qos: 1, retain: true}); // clear it
await qr.next('the clearing message');

// Two listeners of one filter; one goes, the other stays.
const qa = T.queue(), qb = T.queue();
const ua = await c.subscribe('api/s', {qos: 1}, qa);
const ub = await c.subscribe('api/s', {qos: 1}, qb);
T.eq(tern.stats().filters, 3, 'filters (api/m/+, api/r, api/s)');
T.eq(tern.stats().listeners, 4, 'listeners');
await c.publish('api/s', 'both', {qos: 1});
T.eq((await qa.next('a: both')).payload.text(), 'both', 'first listener');
T.eq((await qb.next('b: both')).payload.text(), 'both', 'second listener');
await ua();
await ua(); // a second call does nothing
await c.publish('api/s', 'b only', {qos: 1});
T.eq((await qb.next('b only')).payload.text(), 'b only', 'the remaining listener');
T.eq(qa.pending(), 0, 'an unsubscribed listener gets nothing');

await unsubscribe();
await ub();
await unR();
await c.publish('api/m/late', 'nobody', {qos: 1});
T.eq(q.pending(), 0, 'no message after unsubscribe');
let s = tern.stats();
T.eq([s.clients, s.listeners, s.filters, s.held], [1, 0, 0, 1], 'stats [clients, listeners, filters, held] with one client and no listener');
T.eq(s.funcs, 7, 'js.Func values: the seven exported functions');

// end: close and end events, then everything refuses.
const events = [];
const removed = () => events.push('removed listener');
c.on('close', removed);
c.on('close', () => events.push('close'));
c.on('end', () => events.push('end'));
c.off('close', removed);
await c.end();
T.eq(events, ['close', 'end'], 'events of end()');
T.check(c.ended && !c.connected, 'ended');
await c.end(); // again: nothing to do
const e1 = await T.rejects(c.publish('api/x', 'x'), 'publish after end');
T.eq(e1.kind, 'closed', 'publish after end: kind');
const e2 = await T.rejects(c.subscribe('api/x', () => {}), 'subscribe after end');
T.eq(e2.kind, 'closed', 'subscribe after end: kind');
s = tern.stats();
T.eq([s.clients, s.listeners, s.filters, s.held], [0, 0, 0, 0], 'stats after end');

// Tern.connect loads and connects in one call; options as the only argument.
const c2 = await Tern.connect({url: WS, clientId: 'api-2', protocolVersion: 4});
T.eq(c2.clientId, 'api-2', 'Tern.connect');
await c2.end({reasonCode: 0});
`)
}

// testSeveralClients: two clients, MQTT 5.0 and 3.1.1, in one wasm
// instance; a generated client id.
func testSeveralClients(t *testing.T, b *browser, e *env) {
	p := b.tab(t)
	p.open(e.site.URL + "/test")
	p.run(e, `
const tern = await Tern.load();
const c5 = await tern.connect(WS);
T.check(/^tern_[0-9a-f]{12}$/.test(c5.clientId), 'generated client id ' + c5.clientId);
const c4 = await tern.connect(WS, {protocolVersion: 4, clientId: 'v311'});
T.eq(tern.stats().clients, 2, 'two clients in one instance');
const q4 = T.queue(), q5 = T.queue();
await c4.subscribe('multi/#', {qos: 1}, q4);
await c5.subscribe('multi/#', {qos: 2}, q5);
await c5.publish('multi/a', 'from 5', {qos: 1});
await c4.publish('multi/b', 'from 4', {qos: 2});
const got4 = [(await q4.next()).payload.text(), (await q4.next()).payload.text()].sort();
const got5 = [(await q5.next()).payload.text(), (await q5.next()).payload.text()].sort();
T.eq(got4, ['from 4', 'from 5'], '3.1.1 client');
T.eq(got5, ['from 4', 'from 5'], '5.0 client');
T.check(q4.pending() === 0 && q5.pending() === 0, 'no duplicates');
await Promise.all([c4.end(), c5.end()]);
T.eq(tern.stats().clients, 0, 'no client left');
`)
}

// testGoInterop: messages between the page and Go clients.
func testGoInterop(t *testing.T, b *browser, e *env) {
	p := b.tab(t)
	p.open(e.site.URL + "/test")
	goc := e.goClient(t, "go-interop")
	got := make(chan *client.Message, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := goc.Subscribe(ctx, func(m *client.Message) { got <- m }, codec.Subscription{Filter: "interop/page", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	p.run(e, `
const c = await Tern.connect(WS, {clientId: 'page-interop'});
window.received = [];
await c.subscribe('interop/go', {qos: 1}, (topic, payload, packet) => received.push([topic, payload.text(), packet.qos]));
window.pageClient = c;
`)
	publish(t, goc, "interop/go", "from Go", 1, false)
	p.waitJS("the page to receive the Go client's message", `received.length === 1`, 10*time.Second)
	if r := eval[string](p, `JSON.stringify(received[0])`); r != `["interop/go","from Go",1]` {
		t.Errorf("page received %s", r)
	}
	p.run(e, `await pageClient.publish('interop/page', 'from the page', {qos: 1}); await pageClient.end();`)
	select {
	case m := <-got:
		if m.Topic != "interop/page" || string(m.Payload) != "from the page" {
			t.Errorf("Go client received %s %q", m.Topic, m.Payload)
		}
	case <-ctx.Done():
		t.Fatal("the Go client did not receive the page's message")
	}
}

// TestBrowserSCRAM: connect(url, {auth: 'scram-sha-256'}) logs in
// without the password reaching the broker; a wrong password is refused.
func TestBrowserSCRAM(t *testing.T) {
	needWasm(t)
	b := startBrowser(t)
	e := newEnv(t)
	p := b.tab(t)
	p.open(e.site.URL + "/test")
	p.run(e, fmt.Sprintf(`
const tern = await Tern.load();
const c = await tern.connect(WS, {clientId: 'scram-1', username: '%[1]s', password: '%[2]s', auth: 'scram-sha-256'});
T.check(c.connected, 'connected with SCRAM-SHA-256');
await c.end();
let err = await T.rejects(tern.connect(WS, {username: '%[1]s', password: 'wrong-%[2]s', auth: 'scram-sha-256', reconnectPeriod: 0}), 'a wrong SCRAM password');
T.eq([err.kind, err.code, err.op], ['reason', 0x87, 'connect'], 'a wrong SCRAM password');
err = await T.rejects(tern.connect(WS, {protocolVersion: 4, username: '%[1]s', password: '%[2]s', auth: 'scram-sha-256'}), 'SCRAM over 3.1.1');
T.eq(err.kind, 'invalid', 'SCRAM over 3.1.1: kind');
T.check(err.message.includes('protocolVersion 5'), 'SCRAM over 3.1.1: ' + err.message);
// Without auth the password goes in the CONNECT, which this broker refuses for this user.
err = await T.rejects(tern.connect(WS, {username: '%[1]s', password: 'plain', reconnectPeriod: 0}), 'a plain password');
T.eq([err.kind, err.code], ['reason', 134], 'a plain password');
`, scramUser, scramPassword))
	for _, pw := range e.plainPasswords.all() {
		if strings.Contains(pw, scramPassword) {
			t.Errorf("the broker got the SCRAM password in a CONNECT: %q", pw)
		}
	}
	if got := e.plainPasswords.all(); len(got) != 1 || got[0] != "plain" {
		t.Errorf("CONNECT passwords %q, want only the plain one", got)
	}
}

// testErrors: every kind of rejection, with its reason code.
func testErrors(t *testing.T, b *browser, e *env) {
	p := b.tab(t)
	p.open(e.site.URL + "/test")
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	host := strings.TrimPrefix(e.site.URL, "http://")
	p.run(e, fmt.Sprintf(`
const tern = await Tern.load();
const CLOSED = 'ws://%s/mqtt', WRONG_PATH = 'ws://%s/not-mqtt';

// Bad URLs.
let err = await T.rejects(tern.connect('http://%[2]s/mqtt'), 'http:// URL');
T.eq(err.kind, 'invalid', 'http:// URL: kind');
T.check(/ws:\/\/ or wss:\/\//.test(err.message), 'http:// URL: message says what to use: ' + err.message);
err = await T.rejects(tern.connect(CLOSED, {reconnectPeriod: 0, connectTimeout: 5000}), 'nobody listening');
T.eq(err.kind, 'dial', 'nobody listening: kind');
T.check(err.message.includes(CLOSED), 'the dial error names the URL: ' + err.message);
err = await T.rejects(tern.connect(WRONG_PATH), 'wrong path');
T.eq(err.kind, 'dial', 'wrong path: kind');
T.check(err.message.includes('subprotocol'), 'the dial error gives hints: ' + err.message);
err = await T.rejects(tern.connect(WS, {keepalive: 'often'}), 'bad option');
T.eq(err.kind, 'invalid', 'bad option: kind');
T.check(err.message.includes('keepalive'), 'bad option: message names it: ' + err.message);

// Refused credentials, for both protocol versions.
for (const v of [5, 4]) {
  err = await T.rejects(tern.connect(WS, {protocolVersion: v, username: '%s', password: 'wrong'}), 'refused credentials v' + v);
  T.eq([err.kind, err.code, err.codeName, err.op], ['reason', 134, 'Bad User Name or Password', 'connect'], 'refused credentials v' + v);
}

const c = await tern.connect(WS, {clientId: 'errors'});
// Topics the specification forbids, with their reason codes.
err = await T.rejects(c.publish('a/#', 'x'), 'publish to a wildcard topic');
T.eq([err.kind, err.code], ['invalid', 0x90], 'publish to a wildcard topic');
err = await T.rejects(c.subscribe('a/#/b', () => {}), 'a bad filter');
T.eq([err.kind, err.code], ['invalid', 0x8f], 'a bad filter');
err = await T.rejects(c.publish('a', 'x', {qos: 3}), 'QoS 3');
T.eq(err.kind, 'invalid', 'QoS 3');
err = await T.rejects(c.subscribe(42, () => {}), 'a number as filter');
T.eq(err.kind, 'invalid', 'a number as filter');
err = await T.rejects(c.subscribe('a', {qos: 1}), 'no callback');
T.eq(err.kind, 'invalid', 'no callback');
err = await T.rejects(c.publish('a', {x: 1}), 'an object payload');
T.eq(err.kind, 'invalid', 'an object payload');
// Larger than the server's Maximum Packet Size: refused with 0x95.
err = await T.rejects(c.publish('big', new Uint8Array(%d + 1), {qos: 1}), 'a packet too large');
T.eq([err.kind, err.code, err.op], ['reason', 0x95, 'publish'], 'a packet too large');
T.check(err instanceof Error && err.name === 'TernError', 'errors are Errors named TernError');
// The client still works after all that.
const q = T.queue();
await c.subscribe('errors/ok', q);
await c.publish('errors/ok', 'fine');
T.eq((await q.next()).payload.text(), 'fine', 'the client works after refused calls');
await c.end();
T.eq(tern.stats().held, 0, 'no callback held after failed calls');
`, closed, host, refusedUser, brokerMaxPacket))
}

// testClosedConnection: the server ends a client that does not reconnect
// (another client takes its id over): error with the reason code, close,
// end, and every call refused afterwards.
func testClosedConnection(t *testing.T, b *browser, e *env) {
	p := b.tab(t)
	p.open(e.site.URL + "/test")
	p.run(e, `
const c = await Tern.connect(WS, {clientId: 'kick-me', reconnectPeriod: 0});
window.events = [];
for (const name of ['connect', 'reconnect', 'close', 'error', 'end']) {
  c.on(name, (x) => events.push(name === 'error' ? ['error', x.kind, x.code, x.op] : name));
}
await T.event(c, 'connect');
await c.subscribe('closed/#', () => {});
window.closedClient = c;
`)
	e.goClient(t, "kick-me") // takes the session over
	p.waitJS("the end event", `events.includes('end')`, 10*time.Second)
	p.run(e, `
T.eq(events, ['connect', ['error', 'reason', 0x8e, 'disconnect'], 'close', 'end'], 'events');
const c = closedClient;
T.check(c.ended && !c.connected, 'ended');
const err = await T.rejects(c.publish('closed/x', 'x', {qos: 1}), 'publish on a closed connection');
T.eq(err.kind, 'closed', 'publish on a closed connection: kind');
await c.end(); // nothing to do, no error
const s = (await Tern.load()).stats();
T.eq([s.clients, s.listeners, s.held], [0, 0, 0], 'nothing kept of a closed client');
`)
}

// testReconnect: a client that reconnects gets error, close, reconnect
// and connect, and keeps its subscriptions.
func testReconnect(t *testing.T, b *browser, e *env) {
	p := b.tab(t)
	p.open(e.site.URL + "/test")
	p.run(e, `
const c = await Tern.connect(WS, {clientId: 'come-back', reconnectPeriod: 100});
window.events = [];
for (const name of ['connect', 'reconnect', 'close', 'error', 'end']) {
  c.on(name, (x) => events.push(name === 'error' ? 'error ' + x.code : name));
}
await T.event(c, 'connect');
window.got = [];
await c.subscribe('rc/topic', {qos: 1}, (topic, payload) => got.push(payload.text()));
window.rc = c;
`)
	e.goClient(t, "come-back") // kicks the page, which takes the id back
	p.waitJS("connect after reconnect", `events.lastIndexOf('connect') > events.indexOf('reconnect') && events.indexOf('reconnect') > 0`, 15*time.Second)
	if ev := eval[string](p, `JSON.stringify(events.slice(0, 5))`); ev != `["connect","error 142","close","reconnect","connect"]` {
		t.Errorf("events %s", ev)
	}
	other := e.goClient(t, "rc-publisher")
	publish(t, other, "rc/topic", "after the reconnect", 1, false)
	p.waitJS("a message after the reconnect", `got.includes('after the reconnect')`, 10*time.Second)
	p.run(e, `T.check(rc.connected, 'connected'); await rc.end();`)
}

// testElements: <tern-connection>, <tern-value> (text, JSON path, digits)
// and <tern-chart> on one shared connection, and their clean-up.
func testElements(t *testing.T, b *browser, e *env) {
	p := b.tab(t)
	p.open(e.site.URL + "/test")
	p.run(e, `
document.getElementById('box').innerHTML =
  '<tern-connection id="conn" client-id="elements" url="' + WS + '"></tern-connection>' +
  '<tern-value id="v1" topic="el/temp">–</tern-value>' +
  '<tern-value id="v2" topic="el/json" json-path="a.b[1]"></tern-value>' +
  '<tern-value id="v3" topic="el/temp" digits="1"></tern-value>' +
  '<tern-chart id="ch" topic="el/temp" max-points="3" label="temp"></tern-chart>';
window.seen = [];
document.addEventListener('tern-message', (ev) => seen.push(ev.target.id));
`)
	p.waitJS("the shared connection", `document.getElementById('conn').dataset.state === 'connected'`, 15*time.Second)
	p.waitJS("the elements to subscribe", `['v1','v2','v3','ch'].every((id) => document.getElementById(id).dataset.state === 'live')`, 10*time.Second)
	if txt := eval[string](p, `document.getElementById('conn').textContent`); !strings.Contains(txt, "Connected to "+e.ws) || !strings.Contains(txt, "elements") {
		t.Errorf("<tern-connection> says %q", txt)
	}
	goc := e.goClient(t, "elements-publisher")
	publish(t, goc, "el/temp", "21.25", 1, false)
	publish(t, goc, "el/json", `{"a":{"b":[1,"two"]}}`, 1, true)
	p.waitJS("the values", `document.getElementById('v1').textContent === '21.25' && document.getElementById('v2').textContent === 'two'`, 10*time.Second)
	if got := eval[string](p, `document.getElementById('v3').textContent`); got != "21.3" {
		t.Errorf("<tern-value digits=1> shows %q, want 21.3", got)
	}
	for _, v := range []string{"22", "23", "24"} {
		publish(t, goc, "el/temp", v, 1, false)
	}
	p.waitJS("the chart", `JSON.stringify(document.getElementById('ch').values) === '[22,23,24]'`, 10*time.Second)
	// The canvas has been drawn on.
	p.waitJS("a drawn chart", `(() => {
		const cv = document.getElementById('ch').shadowRoot.querySelector('canvas');
		const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
		let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; }
		return cv.width > 0 && n > 100;
	})()`, 5*time.Second)
	p.run(e, `
T.check(seen.includes('v1') && seen.includes('v2') && seen.includes('ch'), 'tern-message events: ' + JSON.stringify(seen));
const tern = await Tern.load();
let s = tern.stats();
T.eq([s.clients, s.listeners, s.filters], [1, 4, 2], 'one shared connection: [clients, listeners, filters]');
// A new topic: the element subscribes again.
const v1 = document.getElementById('v1');
v1.setAttribute('topic', 'el/other');
await T.deadline((async () => { while (tern.stats().filters !== 3) await new Promise((r) => setTimeout(r, 10)); })(), 5000, 'the new subscription');
// Removed elements unsubscribe.
document.getElementById('box').replaceChildren();
await T.deadline((async () => { while (tern.stats().listeners !== 0) await new Promise((r) => setTimeout(r, 10)); })(), 5000, 'the elements to unsubscribe');
s = tern.stats();
T.eq([s.clients, s.listeners, s.filters], [1, 0, 0], 'after removing the elements');
(await Tern.shared()).end();
`)
}

// testNoGrowth: 1,000 subscribe/unsubscribe cycles leave no callback
// behind, counted three ways: tern.wasm's own counts (js.Func values,
// page functions held, listeners), the JavaScript values Go references
// (wasm_exec.js's table), and a FinalizationRegistry on the 1,000
// callbacks.
func testNoGrowth(t *testing.T, b *browser, e *env) {
	const cycles = 1000
	p := b.tab(t)
	p.open(e.site.URL + "/test")
	r := p.run(e, fmt.Sprintf(`
const tern = await Tern.load();
const settle = async () => {
  // Go's collector drops the references to values it no longer uses;
  // wait until the count stops falling.
  let last = Infinity;
  for (let i = 0; i < 50; i++) {
    await tern.gc();
    await new Promise((r) => setTimeout(r, 20));
    const n = tern.stats().goValues;
    if (n >= last) return n;
    last = n;
  }
  return last;
};
const c = await tern.connect(WS, {clientId: 'no-growth'});
const keep = T.queue();
const unKeep = await c.subscribe('leak/0', {qos: 1}, keep); // cycles on leak/0 share its filter
const before = Object.assign(tern.stats(), {goValues: await settle()});
let collected = 0;
const registry = new FinalizationRegistry(() => collected++);
const t0 = performance.now();
for (let i = 0; i < %d; i++) {
  let got;
  const arrived = new Promise((r) => { got = r; });
  let cb = (topic, payload) => got(payload.text());
  registry.register(cb, i);
  const topic = 'leak/' + (i %% 10);
  const unsubscribe = await c.subscribe(topic, {qos: i %% 3}, cb);
  cb = null;
  if (i %% 100 === 0) {
    await c.publish(topic, 'cycle ' + i, {qos: 1});
    T.eq(await T.deadline(arrived, 10000, 'message of cycle ' + i), 'cycle ' + i, 'message in cycle ' + i);
    if (topic === 'leak/0') await keep.next();
  }
  await unsubscribe();
}
const ms = performance.now() - t0;
const after = Object.assign(tern.stats(), {goValues: await settle()});
// Finalizers run when the engine gets round to them, later on a busy
// machine: collect for a while here (Go's collector first: a callback is
// the engine's to collect only once Go's finalizers have dropped its
// js.Value from wasm_exec.js's table); the test then asks the browser for
// full collections (HeapProfiler.collectGarbage, which also clears the
// engine's caches) until all have run.
for (let i = 0; i < 100 && collected < %[1]d; i++) {
  await tern.gc();
  gc();
  await new Promise((r) => setTimeout(r, 10));
}
window.noGrowthCollected = () => collected;
T.eq([after.listeners, after.filters], [1, 1], 'listeners and filters after the cycles (the long-lived one)');
T.eq(after.funcs, before.funcs, 'js.Func values');
T.eq(after.held, before.held, 'page functions held by Go');
T.check(after.goValues <= before.goValues + 5, 'JavaScript values referenced by Go: ' + before.goValues + ' before, ' + after.goValues + ' after');
T.check(after.goroutines <= before.goroutines + 2, 'goroutines: ' + before.goroutines + ' before, ' + after.goroutines + ' after');
T.data = {before, after, collected, ms: Math.round(ms)};
await unKeep();
await c.end();
`, cycles))
	var d struct {
		Before, After map[string]float64
		Collected     int
		Ms            int
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatalf("data %s: %v", r.Data, err)
	}
	t.Logf("%d subscribe/unsubscribe cycles in %d ms (%.1f ms each)", cycles, d.Ms, float64(d.Ms)/cycles)
	for _, k := range []string{"funcs", "held", "listeners", "filters", "goValues", "goroutines"} {
		t.Logf("  %-10s before %4.0f  after %4.0f", k, d.Before[k], d.After[k])
	}
	collected := d.Collected
	for end := time.Now().Add(testkit.Timeout); collected < cycles && time.Now().Before(end); {
		ctx, cancel := context.WithTimeout(p.ctx, testkit.Timeout)
		_, err := chromedp.Call(ctx, heapprofiler.CollectGarbage, cdp.Empty{})
		cancel()
		if err != nil {
			t.Fatalf("HeapProfiler.collectGarbage: %v", err)
		}
		collected = eval[int](p, `new Promise((r) => setTimeout(() => r(window.noGrowthCollected()), 10))`)
	}
	t.Logf("  callbacks collected by V8: %d of %d (%d before the browser's full collections)", collected, cycles, d.Collected)
	if collected != cycles {
		t.Errorf("message callbacks collected by the JavaScript engine: got %d, want %d", collected, cycles)
	}
}

// testDashboard: index.html as the broker serves it.
func testDashboard(t *testing.T, b *browser, e *env) {
	p := b.tab(t)
	p.open(e.site.URL + "/examples/dashboard")
	p.waitJS("the dashboard to connect", `document.getElementById('connection').dataset.state === 'connected'`, 20*time.Second)
	goc := e.goClient(t, "dashboard-go")
	publish(t, goc, "demo/temperature", "19.5", 1, true)
	p.waitJS("the temperature", `document.getElementById('temperature').textContent === '19.5'`, 10*time.Second)
}

// testDashboardOtherOrigin: index.html served from another origin that
// the broker allows: it loads tern.js and tern.wasm across origins,
// connects, shows what a Go client publishes, and publishes with its form.
func testDashboardOtherOrigin(t *testing.T, b *browser, e *env) {
	goc := e.goClient(t, "dashboard-other")
	got := make(chan *client.Message, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := goc.Subscribe(ctx, func(m *client.Message) { got <- m }, codec.Subscription{Filter: "demo/#", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	// next returns the next message on topic that got receives.
	next := func(topic string) *client.Message {
		t.Helper()
		for {
			select {
			case m := <-got:
				if m.Topic == topic {
					return m
				}
			case <-ctx.Done():
				t.Fatalf("no message on %s", topic)
			}
		}
	}
	// A retained value is there before the page.
	publish(t, goc, "demo/lamp", `{"state":"on","brightness":80}`, 1, true)
	next("demo/lamp")

	p := b.tab(t)
	p.open(e.allowed.URL + "/?broker=" + e.site.URL)
	p.waitJS("the dashboard to connect", `document.getElementById('connection').dataset.state === 'connected'`, 20*time.Second)
	p.waitJS("the retained lamp state", `document.getElementById('lamp').textContent === 'on' && document.getElementById('brightness').textContent === '80'`, 10*time.Second)

	for _, v := range []string{"20.1", "20.7", "21.4"} {
		publish(t, goc, "demo/temperature", v, 1, false)
	}
	p.waitJS("the value and the chart", `document.getElementById('temperature').textContent === '21.4' &&
		JSON.stringify(document.getElementById('chart').values.slice(-3)) === '[20.1,20.7,21.4]'`, 10*time.Second)
	p.waitJS("the message list", `document.querySelectorAll('#log li').length >= 4`, 10*time.Second)

	// The publish control.
	ctx2, cancel2 := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel2()
	if _, err := chromedp.Run(ctx2, chromedp.Evaluate[chromedp.Void](`
		document.getElementById('pub-topic').value = 'demo/command';
		document.getElementById('pub-payload').value = 'from the dashboard';
		document.getElementById('pub-send').click();`)); err != nil {
		t.Fatal(err)
	}
	if m := next("demo/command"); string(m.Payload) != "from the dashboard" {
		t.Errorf("Go client got %q on demo/command", m.Payload)
	}
	p.waitJS("the publish result", `document.getElementById('pub-result').textContent === 'Published to demo/command'`, 10*time.Second)
	p.screenshot("dashboard")
	p.run(e, `(await Tern.shared()).end();`)
}

// testDashboardRefusedOrigin: from an origin the broker does not allow,
// the page says why it cannot connect and what to do.
func testDashboardRefusedOrigin(t *testing.T, b *browser, e *env) {
	p := b.tab(t)
	p.open(e.foreign.URL + "/?broker=" + e.site.URL)
	p.waitJS("the error", `document.getElementById('connection').dataset.state === 'error'`, 20*time.Second)
	text := eval[string](p, `document.getElementById('connection').textContent`)
	origin := strings.TrimPrefix(e.foreign.URL, "http://")
	for _, want := range []string{"Cannot connect to " + e.ws, "cannot open WebSocket", "--allow-origin " + origin} {
		if !strings.Contains(text, want) {
			t.Errorf("the page says %q; want it to contain %q", text, want)
		}
	}
	t.Logf("refused origin: the page says %q", text)
	p.screenshot("dashboard-refused-origin")
	if !strings.Contains(e.jsapiLog.String(), "JS API") {
		t.Errorf("no start-up line from the JS API handler: %s", e.jsapiLog)
	}
}
