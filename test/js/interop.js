'use strict'
// MQTT.js (npm "mqtt", pinned in package.json) against a Tern broker over
// WebSocket. broker/ws_interop_test.go runs it once per protocol version:
//
//   node interop.js ws://127.0.0.1:PORT/mqtt 4|5
//
// It prints "ok <scenario>" for each scenario that passes and "done" at the
// end, and exits 0. On the first failure it prints "FAIL ..." and exits 1
// (2 when the whole run takes more than 30 s). It leaves one retained
// message, js/v<version>/retained = "kept", for the Go test to check from
// the broker's side.

const assert = require('node:assert/strict')
const mqtt = require('mqtt')

const [url, versionArg] = process.argv.slice(2)
const version = Number(versionArg)
if (!url || (version !== 4 && version !== 5)) {
  console.error('usage: node interop.js ws://host:port/mqtt 4|5')
  process.exit(64)
}
const v5 = version === 5
const prefix = `js/v${version}`
const clients = []

const watchdog = setTimeout(() => fail(new Error('timeout after 30s')), 30000)

function fail (err) {
  console.log(`FAIL ${err && err.stack ? err.stack : err}`)
  for (const c of clients) c.end(true)
  process.exit(err && /timeout/.test(String(err)) ? 2 : 1)
}
process.on('unhandledRejection', fail)
process.on('uncaughtException', fail)

// connect resolves with a connected client whose messages queue up for next().
function connect (clientId, extra = {}) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, {
      protocolVersion: version,
      clientId,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 0,
      connectTimeout: 10000,
      ...extra
    })
    clients.push(c)
    c.inbox = []
    c.waiters = []
    c.on('message', (topic, payload, packet) => {
      const m = { topic, payload: payload.toString(), packet }
      const w = c.waiters.shift()
      if (w) w(m)
      else c.inbox.push(m)
    })
    c.once('connect', (connack) => {
      c.connack = connack
      c.on('error', (err) => fail(new Error(`${clientId}: ${err.message}`)))
      resolve(c)
    })
    c.once('error', reject)
  })
}

// next resolves with the client's next message.
function next (c) {
  const m = c.inbox.shift()
  if (m) return Promise.resolve(m)
  return new Promise((resolve) => c.waiters.push(resolve))
}

// plain copies an object with a null prototype (how mqtt-packet decodes
// user properties) so that deepEqual compares only its entries.
function plain (o) {
  return { ...o }
}

async function end (...cs) {
  for (const c of cs) await c.endAsync()
}

async function qos () {
  const sub = await connect(`${prefix}-qos-sub`)
  const granted = await sub.subscribeAsync(`${prefix}/qos/#`, { qos: 2 })
  assert.equal(granted[0].qos, 2)
  const pub = await connect(`${prefix}-qos-pub`)
  for (const q of [0, 1, 2]) {
    const topic = `${prefix}/qos/${q}`
    await pub.publishAsync(topic, `payload q${q}`, { qos: q })
    const m = await next(sub)
    assert.equal(m.topic, topic)
    assert.equal(m.payload, `payload q${q}`)
    assert.equal(m.packet.qos, q)
    console.log(`ok qos${q}`)
  }
  await end(pub, sub)
}

async function retained () {
  const topic = `${prefix}/retained`
  const pub = await connect(`${prefix}-ret-pub`)
  const props = v5 ? { properties: { userProperties: { origin: 'mqtt.js' }, contentType: 'text/plain' } } : {}
  await pub.publishAsync(topic, 'kept', { qos: 1, retain: true, ...props })
  const sub = await connect(`${prefix}-ret-sub`)
  await sub.subscribeAsync(topic, { qos: 1 })
  const m = await next(sub)
  assert.equal(m.payload, 'kept')
  assert.equal(m.packet.retain, true, 'a retained message is sent with RETAIN set')
  if (v5) {
    assert.deepEqual(plain(m.packet.properties.userProperties), { origin: 'mqtt.js' })
    assert.equal(m.packet.properties.contentType, 'text/plain')
  }
  // A live message to a subscription that already exists has RETAIN 0.
  await pub.publishAsync(topic, 'live', { qos: 1 })
  const live = await next(sub)
  assert.equal(live.payload, 'live')
  assert.equal(live.packet.retain, false)
  console.log('ok retained')
  await end(pub, sub)
}

async function will () {
  const topic = `${prefix}/will`
  const watcher = await connect(`${prefix}-will-watch`)
  await watcher.subscribeAsync(topic, { qos: 1 })
  const w = { topic, payload: Buffer.from('gone'), qos: 1, retain: false }
  if (v5) w.properties = { contentType: 'text/plain', userProperties: { why: 'network' } }
  const dying = await connect(`${prefix}-will-dying`, { will: w })
  dying.stream.destroy() // the network fails: no DISCONNECT
  const m = await next(watcher)
  assert.equal(m.topic, topic)
  assert.equal(m.payload, 'gone')
  assert.equal(m.packet.qos, 1)
  if (v5) {
    assert.equal(m.packet.properties.contentType, 'text/plain')
    assert.deepEqual(plain(m.packet.properties.userProperties), { why: 'network' })
  }
  dying.end(true)
  console.log('ok will')

  // A normal DISCONNECT discards the will.
  const polite = await connect(`${prefix}-will-polite`, { will: { ...w, payload: Buffer.from('must not be sent') } })
  await polite.endAsync()
  await watcher.publishAsync(topic, 'marker', { qos: 1 })
  const marker = await next(watcher)
  assert.equal(marker.payload, 'marker', 'the will of a client that disconnected normally was published')
  console.log('ok will-discarded')
  await end(watcher)
}

async function properties () {
  const responder = await connect(`${prefix}-responder`)
  await responder.subscribeAsync(`${prefix}/request`, { qos: 1 })
  const requester = await connect(`${prefix}-requester`)
  await requester.subscribeAsync(`${prefix}/response`, { qos: 1 })
  const corr = Buffer.from([0xde, 0xad, 0xbe, 0xef])
  await requester.publishAsync(`${prefix}/request`, JSON.stringify({ ask: 'time' }), {
    qos: 1,
    properties: {
      responseTopic: `${prefix}/response`,
      correlationData: corr,
      contentType: 'application/json',
      payloadFormatIndicator: true,
      messageExpiryInterval: 60,
      userProperties: { a: '1', b: ['x', 'y'] }
    }
  })
  const req = await next(responder)
  const p = req.packet.properties
  assert.equal(p.responseTopic, `${prefix}/response`)
  assert.deepEqual(Buffer.from(p.correlationData), corr)
  assert.equal(p.contentType, 'application/json')
  assert.equal(p.payloadFormatIndicator, true)
  assert.ok(p.messageExpiryInterval > 0 && p.messageExpiryInterval <= 60, `message expiry ${p.messageExpiryInterval}`)
  assert.deepEqual(plain(p.userProperties), { a: '1', b: ['x', 'y'] })
  console.log('ok properties')

  await responder.publishAsync(p.responseTopic, 'it is now', { qos: 1, properties: { correlationData: p.correlationData } })
  const res = await next(requester)
  assert.equal(res.topic, `${prefix}/response`)
  assert.deepEqual(Buffer.from(res.packet.properties.correlationData), corr)
  console.log('ok request-response')
  await end(requester, responder)
}

async function noLocal () {
  const topic = `${prefix}/nolocal`
  const a = await connect(`${prefix}-nl-a`)
  await a.subscribeAsync(topic, { qos: 1, nl: true })
  await a.publishAsync(topic, 'from myself', { qos: 1 })
  const b = await connect(`${prefix}-nl-b`)
  await b.publishAsync(topic, 'from b', { qos: 1 })
  const m = await next(a)
  assert.equal(m.payload, 'from b', 'a No Local subscription received its own message')
  console.log('ok no-local')
  await end(a, b)
}

async function main () {
  await qos()
  await retained()
  await will()
  if (v5) {
    await properties()
    await noLocal()
  }
  clearTimeout(watchdog)
  console.log('done')
  process.exit(0)
}

main().catch(fail)
