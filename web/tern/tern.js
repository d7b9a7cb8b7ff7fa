/*
 * tern.js: Tern's JS API. An MQTT 3.1.1 and 5.0 client (Go, compiled
 * to WebAssembly) behind a Promise-based API shaped like MQTT.js, and the
 * custom elements <tern-connection>, <tern-value> and <tern-chart>.
 *
 *   <script src="http://broker:8080/tern.js"></script>
 *   <script>
 *     const tern = await Tern.load();
 *     const c = await tern.connect('ws://broker:8080/mqtt', {clientId: 'dash-1'});
 *     const unsubscribe = await c.subscribe('sensors/#', {qos: 1}, (topic, payload) => {
 *       console.log(topic, payload.text());
 *     });
 *     await c.publish('cmd/lamp', 'on', {qos: 1});
 *   </script>
 *
 * The broker serves this file as /tern.js with the Go runtime's support
 * code (wasm_exec.js, of the Go release that built tern.wasm) and the
 * custom elements (elements.js) inserted below, and tern.wasm next to it. Types: /tern.d.ts. No other file, no
 * framework, no request to any other server.
 */
(function () {
  'use strict';

  if (globalThis.Tern && globalThis.Tern.__loader) {
    return; // tern.js included twice: the first one stays
  }

  // The Go class of wasm_exec.js, kept off the global object so that a page
  // running another Go program keeps its own.
  const GoRuntime = (function () {
    const saved = globalThis.Go;
    /*@@wasm_exec.js@@*/
    const Go = globalThis.Go;
    if (saved === undefined) {
      delete globalThis.Go;
    } else {
      globalThis.Go = saved;
    }
    return Go === saved ? undefined : Go;
  })();

  // tern.wasm and the broker's MQTT endpoint are found next to this script.
  const script = document.currentScript;
  const base = new URL('.', (script && script.src) || location.href);

  function defaultBrokerURL() {
    const u = new URL('mqtt', base);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.href;
  }

  const utf8in = new TextDecoder();
  const utf8out = new TextEncoder();

  function report(err) {
    if (typeof globalThis.reportError === 'function') {
      globalThis.reportError(err);
    } else {
      console.error(err);
    }
  }

  // ---- errors and payloads ------------------------------------------------

  /** An error of the API: kind, and the MQTT reason code when there is one. */
  class TernError extends Error {
    constructor(info) {
      super(info.message);
      this.name = 'TernError';
      this.kind = info.kind || 'error';
      for (const k of ['code', 'codeName', 'op', 'rule', 'url', 'hint']) {
        if (info[k] !== undefined) {
          this[k] = info[k];
        }
      }
    }
  }

  function invalid(message) {
    return new TernError({kind: 'invalid', message: 'tern: ' + message});
  }

  /** A received payload: the bytes, with text() and json(). */
  class Payload extends Uint8Array {
    text() {
      return utf8in.decode(this);
    }
    json() {
      return JSON.parse(this.text());
    }
    toString() {
      return this.text();
    }
  }

  // toBytes turns a payload given to publish into bytes.
  function toBytes(v, what) {
    if (v === undefined || v === null) {
      return new Uint8Array(0);
    }
    if (typeof v === 'string') {
      return utf8out.encode(v);
    }
    if (v instanceof Uint8Array) {
      return v;
    }
    if (v instanceof ArrayBuffer) {
      return new Uint8Array(v);
    }
    if (ArrayBuffer.isView(v)) {
      return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    }
    if (typeof v === 'number' || typeof v === 'boolean') {
      return utf8out.encode(String(v));
    }
    throw invalid(what + ' must be a string, a number or bytes (Uint8Array, ArrayBuffer), not ' + typeof v);
  }

  // ---- loading tern.wasm --------------------------------------------------

  let loading = null; // Promise of the API, once Tern.load is called
  let runtime = null; // {go, raw} once loaded

  /** Loads tern.wasm once per page; every call returns the same API. */
  function load(opts) {
    if (!loading) {
      loading = instantiate(opts || {});
      loading.catch(() => {
        loading = null; // let a later call try again
      });
    }
    return loading;
  }

  async function instantiate(opts) {
    if (!GoRuntime) {
      throw new TernError({kind: 'load', message: 'tern.js: the Go runtime support (wasm_exec.js) is missing: load tern.js from a Tern broker, at /tern.js'});
    }
    const url = opts.wasm ? new URL(opts.wasm, document.baseURI).href : new URL('tern.wasm', base).href;
    let resp;
    try {
      resp = await fetch(url, {credentials: 'omit'});
    } catch (e) {
      throw new TernError({kind: 'load', url, message: 'cannot fetch ' + url + ': ' + e.message + ' (is the broker running and reachable from this page?)'});
    }
    if (!resp.ok) {
      let body = '';
      try {
        body = (await resp.text()).trim().slice(0, 300);
      } catch (e) {
        // no body
      }
      throw new TernError({kind: 'load', url, message: 'cannot load ' + url + ': HTTP ' + resp.status + (body ? ': ' + body : '')});
    }
    const go = new GoRuntime();
    let result;
    if (WebAssembly.instantiateStreaming && (resp.headers.get('Content-Type') || '').startsWith('application/wasm')) {
      result = await WebAssembly.instantiateStreaming(resp, go.importObject);
    } else {
      result = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
    }
    const ready = new Promise((resolve) => {
      Tern.__boot = {ready: resolve, Payload};
    });
    const exited = go.run(result.instance).then(() => {
      throw new TernError({kind: 'load', message: 'tern.wasm stopped (see the console)'});
    });
    try {
      const raw = await Promise.race([ready, exited]);
      runtime = {go, raw};
    } finally {
      delete Tern.__boot;
    }
    return api;
  }

  function raw() {
    if (!runtime) {
      throw new TernError({kind: 'load', message: 'tern: call Tern.load() first'});
    }
    return runtime.raw;
  }

  // call runs a function of tern.wasm that completes through a callback.
  function call(name, ...args) {
    return new Promise((resolve, reject) => {
      raw()[name](...args, (err, value) => {
        if (err) {
          reject(new TernError(err));
        } else {
          resolve(value);
        }
      });
    });
  }

  // ---- option normalisation (the checks are in Go) ------------------------

  // userProperties {key: 'v' | ['v1', 'v2']} become [key, value, ...].
  function flatUserProperties(up) {
    if (up === undefined || up === null) {
      return undefined;
    }
    if (typeof up !== 'object') {
      return up; // refused with a message by tern.wasm
    }
    const flat = [];
    for (const [k, v] of Object.entries(up)) {
      for (const x of Array.isArray(v) ? v : [v]) {
        flat.push(k, String(x));
      }
    }
    return flat;
  }

  function normProps(p) {
    if (p === undefined || p === null || typeof p !== 'object') {
      return p;
    }
    const out = Object.assign({}, p);
    out.userProperties = flatUserProperties(p.userProperties);
    if (p.correlationData !== undefined && p.correlationData !== null) {
      out.correlationData = toBytes(p.correlationData, 'properties.correlationData');
    }
    return out;
  }

  function randomClientId() {
    const b = new Uint8Array(6);
    crypto.getRandomValues(b);
    return 'tern_' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  function normConnect(url, o) {
    const n = {
      url,
      protocolVersion: o.protocolVersion,
      clientId: o.clientId === undefined || o.clientId === null ? randomClientId() : o.clientId,
      username: o.username,
      password: o.password === undefined || o.password === null || typeof o.password === 'string' ? o.password : toBytes(o.password, 'password'),
      auth: o.auth,
      keepalive: o.keepalive,
      clean: o.clean,
      reconnectPeriod: o.reconnectPeriod,
      maxReconnectPeriod: o.maxReconnectPeriod,
      connectTimeout: o.connectTimeout,
      properties: normProps(o.properties),
    };
    if (o.will !== undefined && o.will !== null) {
      const w = o.will;
      n.will = {topic: w.topic, payload: toBytes(w.payload, 'will.payload'), qos: w.qos, retain: w.retain, properties: normProps(w.properties)};
    }
    return n;
  }

  function normPublish(o) {
    if (o === undefined || o === null) {
      return undefined;
    }
    return {qos: o.qos, retain: o.retain, properties: normProps(o.properties)};
  }

  function normSubscribe(o) {
    if (o === undefined || o === null) {
      return undefined;
    }
    if (typeof o === 'number') {
      return {qos: o}; // subscribe(filter, 1, cb)
    }
    return {qos: o.qos, nl: o.nl, rap: o.rap, rh: o.rh};
  }

  // ---- the client -----------------------------------------------------------

  let lastListener = 0;

  /** One MQTT connection. Create it with tern.connect. */
  class Client {
    constructor(url, opts) {
      this.url = url;
      this.options = opts;
      this.clientId = '';
      this.connected = false;
      this.ended = false;
      this.connack = null;
      this._h = 0;
      this._events = new Map(); // name -> Set of functions
      this._listeners = new Map(); // listener id -> message callback
      this._emit = this._fromGo.bind(this); // held by tern.wasm until the client ends
      this._ending = null;
      this._seen = false; // an event came from tern.wasm
    }

    /** Adds an event listener: connect, reconnect, close, error or end. */
    on(event, fn) {
      if (typeof fn !== 'function') {
        throw invalid('on: the listener must be a function');
      }
      if (this.ended) {
        return this;
      }
      let set = this._events.get(event);
      if (!set) {
        set = new Set();
        this._events.set(event, set);
      }
      set.add(fn);
      return this;
    }

    /** Removes an event listener. */
    off(event, fn) {
      const set = this._events.get(event);
      if (set) {
        set.delete(fn);
        if (set.size === 0) {
          this._events.delete(event);
        }
      }
      return this;
    }

    /** Adds an event listener that runs once. */
    once(event, fn) {
      const once = (...args) => {
        this.off(event, once);
        fn.apply(this, args);
      };
      return this.on(event, once);
    }

    _event(name, ...args) {
      const set = this._events.get(name);
      if (!set) {
        return;
      }
      for (const fn of Array.from(set)) {
        try {
          fn.apply(this, args);
        } catch (e) {
          report(e);
        }
      }
    }

    // _fromGo receives events and messages from tern.wasm.
    _fromGo(type, a, b, c, d, e, f, g) {
      if (type === 'message') {
        const cb = this._listeners.get(a);
        if (cb) {
          const packet = {cmd: 'publish', topic: b, payload: c, qos: d, retain: e, dup: f};
          if (g !== undefined) {
            packet.properties = g;
          }
          try {
            cb(b, c, packet);
          } catch (err) {
            report(err);
          }
        }
        return;
      }
      this._seen = true;
      switch (type) {
        case 'connect':
          this.connected = true;
          this.connack = a;
          this._event('connect', a);
          break;
        case 'reconnect':
          this._event('reconnect');
          break;
        case 'close':
          this.connected = false;
          this._event('close');
          if (this.options.reconnectPeriod === 0 && !this._ending) {
            this._end(); // lost for good: no reconnect
          }
          break;
        case 'error':
          this._event('error', new TernError(a));
          break;
        case 'end':
          this._end();
          break;
      }
    }

    _end() {
      if (this.ended) {
        return;
      }
      this.ended = true;
      this.connected = false;
      this._event('end');
      // Drop every callback of the page, so that nothing it gave is kept.
      this._events.clear();
      this._listeners.clear();
    }

    /**
     * Subscribes to a Topic Filter. cb(topic, payload, packet) gets each
     * message; the promise gives the function that ends this subscription.
     */
    subscribe(filter, opts, cb) {
      if (typeof opts === 'function') {
        cb = opts;
        opts = undefined;
      }
      if (typeof filter !== 'string') {
        return Promise.reject(invalid('subscribe: the topic filter must be a string'));
      }
      if (typeof cb !== 'function') {
        return Promise.reject(invalid('subscribe: a callback (topic, payload, packet) => {} is required'));
      }
      if (this.ended) {
        return Promise.reject(closed('subscribe'));
      }
      const id = ++lastListener;
      this._listeners.set(id, cb);
      return call('subscribe', this._h, id, filter, normSubscribe(opts)).then((granted) => {
        let done = false;
        const unsubscribe = () => {
          if (done) {
            return Promise.resolve();
          }
          done = true;
          this._listeners.delete(id);
          return call('unsubscribe', this._h, id);
        };
        unsubscribe.qos = granted;
        unsubscribe.filter = filter;
        return unsubscribe;
      }, (err) => {
        this._listeners.delete(id);
        throw err;
      });
    }

    /** Publishes a message; resolves when its QoS flow completes. */
    publish(topic, payload, opts) {
      let bytes;
      let o;
      try {
        bytes = toBytes(payload, 'publish: the payload');
        o = normPublish(opts);
      } catch (e) {
        return Promise.reject(e);
      }
      if (this.ended) {
        return Promise.reject(closed('publish'));
      }
      return call('publish', this._h, topic, bytes, o);
    }

    /** Disconnects (DISCONNECT with opts.reasonCode, default 0) and ends the client. */
    end(opts) {
      if (this._ending) {
        return this._ending;
      }
      if (typeof opts !== 'object' || opts === null) {
        opts = undefined; // end(force) as in MQTT.js: there is nothing to force
      }
      this._ending = call('end', this._h, opts && {reasonCode: opts.reasonCode}).then(() => this._end());
      return this._ending;
    }
  }

  function closed(op) {
    return new TernError({kind: 'closed', op, message: 'mqtt: client closed'});
  }

  // dialHint explains the usual cause of a WebSocket that does not open
  // when the page and the broker are on different origins.
  function dialHint(err, url) {
    let broker;
    try {
      broker = new URL(url);
    } catch (e) {
      return;
    }
    const page = location.host;
    if (location.protocol.startsWith('http') && broker.host !== page) {
      err.hint = 'This page (' + location.origin + ') is not on the broker\'s origin: the broker must allow it, e.g. tern --allow-origin ' + page;
    }
  }

  /** Connects to a broker; resolves once the CONNACK accepts the connection. */
  async function connect(url, opts) {
    if (url !== null && typeof url === 'object') {
      opts = url;
      url = undefined;
    }
    opts = Object.assign({}, opts || {});
    url = url || opts.url || defaultBrokerURL();
    const c = new Client(url, opts);
    const n = normConnect(url, opts);
    let ack;
    try {
      ack = await call('connect', n, c._emit);
    } catch (e) {
      if (e.kind === 'dial') {
        dialHint(e, url);
      }
      throw e;
    }
    c._h = ack.handle;
    c.clientId = ack.clientId;
    c.connected = true;
    c.connack = ack;
    // The first connect event comes after this promise resolves, so that
    // listeners added right after `await tern.connect(...)` get it.
    setTimeout(() => {
      if (!c._seen && !c.ended) {
        c._event('connect', ack);
      }
    }, 0);
    return c;
  }

  /** What tern.wasm holds; goValues counts the page's values Go references. */
  function stats() {
    const s = raw().stats();
    const out = {funcs: s.funcs, held: s.held, clients: s.clients, listeners: s.listeners, filters: s.filters, goroutines: s.goroutines};
    const values = runtime.go._values;
    if (Array.isArray(values)) {
      out.goValues = values.reduce((n, v) => (v === null || v === undefined ? n : n + 1), 0);
    }
    return out;
  }

  const api = Object.freeze({
    connect,
    stats,
    gc: () => call('gc'),
    TernError,
    Payload,
  });

  // The shared connection and the custom elements: web/tern/elements.js,
  // inserted here by the server.
  /*@@elements.js@@*/

  // ---- the global -----------------------------------------------------------

  const Tern = {
    __loader: true,
    load,
    /** Loads tern.wasm if needed and connects. */
    connect: (url, opts) => load().then((t) => t.connect(url, opts)),
    configure,
    shared,
    onStatus,
    get status() {
      return Object.assign({}, status);
    },
    /** Decodes a payload as UTF-8 text. */
    text: (bytes) => utf8in.decode(bytes),
    defaultURL: defaultBrokerURL,
    TernError,
    Payload,
  };
  globalThis.Tern = Tern;

  if (globalThis.customElements) {
    for (const [name, cls] of [['tern-connection', TernConnection], ['tern-value', TernValue], ['tern-chart', TernChart]]) {
      if (!customElements.get(name)) {
        customElements.define(name, cls);
      }
    }
  }
})();
