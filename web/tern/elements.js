/*
 * elements.js: the shared connection and the custom elements of tern.js
 * (<tern-connection>, <tern-value>, <tern-chart>). The broker serves it
 * inside /tern.js, in place of the elements.js marker of tern.js, whose
 * functions it uses (load, report, TernError, ...).
 */
// ---- the shared connection of the custom elements -------------------------

let sharedConfig = null;
let sharedClient = null; // Promise<Client>
let generation = 0;
const status = {state: 'idle', url: '', error: null, clientId: ''};
const statusListeners = new Set();

function setStatus(fields) {
  Object.assign(status, fields);
  const snapshot = Object.assign({}, status);
  for (const fn of Array.from(statusListeners)) {
    try {
      fn(snapshot);
    } catch (e) {
      report(e);
    }
  }
}

/** Calls fn with the shared connection's status now and on each change; returns the function that stops it. */
function onStatus(fn) {
  statusListeners.add(fn);
  try {
    fn(Object.assign({}, status));
  } catch (e) {
    report(e);
  }
  return () => statusListeners.delete(fn);
}

/** Sets the options of the shared connection (url and connect options); a connection already open is replaced. */
function configure(opts) {
  sharedConfig = Object.assign({}, opts || {});
  generation++;
  const old = sharedClient;
  sharedClient = null;
  if (old) {
    old.then((c) => c.end()).catch(() => {});
  }
}

function domParsed() {
  if (document.readyState !== 'loading') {
    return Promise.resolve();
  }
  return new Promise((resolve) => document.addEventListener('DOMContentLoaded', resolve, {once: true}));
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The shared connection: made on first use, with the options of Tern.configure or <tern-connection>. */
function shared() {
  if (!sharedClient) {
    const p = connectShared(generation);
    sharedClient = p;
    p.catch(() => {
      if (sharedClient === p) {
        sharedClient = null;
      }
    });
  }
  return sharedClient;
}

// connectShared connects, retrying with backoff while the broker cannot be
// reached; a refusal (a reason code) or bad options end the attempts.
async function connectShared(gen) {
  await domParsed(); // <tern-connection> elements have configured by now
  const cfg = Object.assign({}, sharedConfig || {});
  const url = cfg.url || defaultBrokerURL();
  delete cfg.url;
  for (let attempt = 0; ; attempt++) {
    if (gen !== generation) {
      throw new TernError({kind: 'closed', message: 'tern: the shared connection was reconfigured'});
    }
    setStatus({state: 'connecting', url});
    try {
      const t = await load();
      const c = await t.connect(url, cfg);
      if (gen !== generation) {
        c.end();
        throw new TernError({kind: 'closed', message: 'tern: the shared connection was reconfigured'});
      }
      setStatus({state: 'connected', error: null, clientId: c.clientId});
      c.on('error', (e) => setStatus({error: e}));
      c.on('close', () => setStatus({state: 'reconnecting'}));
      c.on('connect', () => setStatus({state: 'connected', error: null}));
      c.on('end', () => {
        if (gen === generation) {
          sharedClient = null;
          setStatus({state: 'closed'});
        }
      });
      return c;
    } catch (e) {
      const final = e.kind === 'reason' || e.kind === 'invalid' || e.kind === 'closed';
      const wait = final ? 0 : Math.min(30000, 1000 * 2 ** attempt);
      e.retryIn = wait;
      if (gen === generation) {
        setStatus({state: 'error', error: e});
      }
      if (final) {
        throw e;
      }
      await delay(wait);
    }
  }
}

function describeError(e) {
  let s = e.message;
  if (e.code !== undefined) {
    s += ' [reason code ' + e.code + ']';
  }
  if (e.hint) {
    s += '. ' + e.hint;
  }
  if (e.retryIn) {
    s += '. Retrying in ' + Math.round(e.retryIn / 1000) + ' s.';
  }
  return s;
}

// ---- custom elements ------------------------------------------------------

// getPath reads a.b[0].c (or a.b.0.c) from a parsed JSON value.
function getPath(v, path) {
  for (const key of path.replace(/\[(\w+)\]/g, '.$1').split('.').filter(Boolean)) {
    if (v === null || typeof v !== 'object') {
      return undefined;
    }
    v = v[key];
  }
  return v;
}

const HTMLElementBase = globalThis.HTMLElement || class {};

/** <tern-connection url client-id username password auth protocol-version keepalive>: configures the shared connection and shows its status. */
class TernConnection extends HTMLElementBase {
  connectedCallback() {
    const cfg = {};
    const attr = (name, key, conv) => {
      if (this.hasAttribute(name)) {
        cfg[key] = conv ? conv(this.getAttribute(name)) : this.getAttribute(name);
      }
    };
    attr('url', 'url');
    attr('client-id', 'clientId');
    attr('username', 'username');
    attr('password', 'password');
    attr('auth', 'auth');
    attr('protocol-version', 'protocolVersion', Number);
    attr('keepalive', 'keepalive', Number);
    if (Object.keys(cfg).length > 0) {
      configure(cfg);
    }
    if (!this.hasAttribute('role')) {
      this.setAttribute('role', 'status');
    }
    this._off = onStatus((s) => this._render(s));
  }

  disconnectedCallback() {
    if (this._off) {
      this._off();
      this._off = null;
    }
  }

  _render(s) {
    this.dataset.state = s.state;
    let text;
    switch (s.state) {
      case 'idle':
        text = 'Not connected';
        break;
      case 'connecting':
        text = s.error ? 'Cannot connect to ' + s.url + ': ' + describeError(s.error) : 'Connecting to ' + s.url + '…';
        break;
      case 'connected':
        text = 'Connected to ' + s.url + (s.clientId ? ' as ' + s.clientId : '');
        break;
      case 'reconnecting':
        text = 'Connection lost' + (s.error ? ' (' + s.error.message + ')' : '') + '; reconnecting…';
        break;
      case 'error':
        text = 'Cannot connect to ' + s.url + ': ' + describeError(s.error);
        break;
      default:
        text = 'Disconnected';
    }
    this.textContent = text;
  }
}

// TernSubscriber is the base of the elements that show a topic.
class TernSubscriber extends HTMLElementBase {
  static get observedAttributes() {
    return ['topic', 'qos'];
  }

  connectedCallback() {
    this._attach();
  }

  disconnectedCallback() {
    this._detach();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue !== newValue && this.isConnected && this._token) {
      this._detach();
      this._attach();
    }
  }

  _setState(state, message) {
    this.dataset.state = state;
    if (message) {
      this.title = message;
    } else {
      this.removeAttribute('title');
    }
  }

  async _attach() {
    const token = {};
    this._token = token;
    const topic = this.getAttribute('topic');
    if (!topic) {
      this._setState('error', 'no topic attribute');
      return;
    }
    this._setState('connecting');
    const offStatus = onStatus((s) => {
      if (this._token === token && this.dataset.state !== 'live') {
        this._setState(s.state === 'error' || (s.state === 'connecting' && s.error) ? 'error' : 'connecting', s.error ? describeError(s.error) : '');
      }
    });
    let c;
    try {
      c = await shared();
    } catch (e) {
      offStatus();
      if (this._token === token) {
        this._setState('error', describeError(e));
      }
      return;
    }
    offStatus();
    if (this._token !== token) {
      return;
    }
    try {
      const qos = Number(this.getAttribute('qos') || 0);
      const unsubscribe = await c.subscribe(topic, {qos}, (t, payload, packet) => this._message(t, payload, packet));
      if (this._token !== token) {
        unsubscribe().catch(() => {});
        return;
      }
      const onEnd = () => {
        // The shared connection was replaced: subscribe on the new one.
        if (this._token === token) {
          this._detach();
          this._attach();
        }
      };
      c.on('end', onEnd);
      this._unsubscribe = () => {
        c.off('end', onEnd);
        return unsubscribe();
      };
      this._setState('live');
    } catch (e) {
      if (this._token === token) {
        this._setState('error', describeError(e));
      }
    }
  }

  _detach() {
    this._token = null;
    const u = this._unsubscribe;
    this._unsubscribe = null;
    if (u) {
      u().catch(() => {});
    }
  }

  // value reads the element's value from a payload: the text, or the
  // json-path of the JSON payload (undefined when it has none).
  _value(payload) {
    const path = this.getAttribute('json-path');
    if (!path) {
      return payload.text();
    }
    try {
      return getPath(payload.json(), path);
    } catch (e) {
      return undefined;
    }
  }

  _announce(topic, value, payload, packet) {
    this.dispatchEvent(new CustomEvent('tern-message', {bubbles: true, detail: {topic, value, payload, packet}}));
  }
}

/** <tern-value topic="…" json-path="a.b" digits="1">: the latest value of a topic. */
class TernValue extends TernSubscriber {
  static get observedAttributes() {
    return ['topic', 'qos', 'json-path', 'digits'];
  }

  _message(topic, payload, packet) {
    let v = this._value(payload);
    if (v === undefined) {
      this._setState('live', 'the last message on ' + topic + ' has no value at ' + this.getAttribute('json-path'));
      return;
    }
    const digits = this.getAttribute('digits');
    if (digits !== null && v !== '' && Number.isFinite(Number(v))) {
      v = Number(v).toFixed(Number(digits));
    }
    this.textContent = typeof v === 'object' ? JSON.stringify(v) : String(v);
    this.dataset.topic = topic;
    this._setState('live');
    this._announce(topic, v, payload, packet);
  }
}

/** <tern-chart topic="…" json-path max-points min max height label>: a live line chart of a numeric topic. */
class TernChart extends TernSubscriber {
  static get observedAttributes() {
    return ['topic', 'qos', 'json-path', 'max-points', 'min', 'max', 'height', 'label'];
  }

  constructor() {
    super();
    this._points = []; // [time ms, value]
    this._frame = 0;
    const root = this.attachShadow({mode: 'open'});
    root.innerHTML = '<style>:host{display:block;position:relative;min-height:60px}canvas{display:block;width:100%}</style><canvas part="canvas"></canvas>';
    this._canvas = root.querySelector('canvas');
    this._canvas.setAttribute('role', 'img');
  }

  connectedCallback() {
    super.connectedCallback();
    if (globalThis.ResizeObserver && !this._resize) {
      this._resize = new ResizeObserver(() => this._schedule());
      this._resize.observe(this);
    }
    this._schedule();
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    if (this._resize) {
      this._resize.disconnect();
      this._resize = null;
    }
    if (this._frame) {
      cancelAnimationFrame(this._frame);
      this._frame = 0;
    }
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (name === 'topic' || name === 'json-path') {
      if (oldValue !== newValue) {
        this._points = [];
      }
      super.attributeChangedCallback(name, oldValue, newValue);
    }
    this._schedule();
  }

  /** The values shown, oldest first. */
  get values() {
    return this._points.map((p) => p[1]);
  }

  _message(topic, payload, packet) {
    const v = Number(this._value(payload));
    if (!Number.isFinite(v)) {
      return;
    }
    const max = Math.max(2, Number(this.getAttribute('max-points')) || 120);
    this._points.push([Date.now(), v]);
    if (this._points.length > max) {
      this._points.splice(0, this._points.length - max);
    }
    this._setState('live');
    this._schedule();
    this._announce(topic, v, payload, packet);
  }

  _schedule() {
    if (!this._frame && this.isConnected) {
      this._frame = requestAnimationFrame(() => {
        this._frame = 0;
        this._draw();
      });
    }
  }

  _draw() {
    const canvas = this._canvas;
    const dpr = globalThis.devicePixelRatio || 1;
    const w = Math.max(100, this.clientWidth || 300);
    const h = Math.max(60, Number(this.getAttribute('height')) || 160);
    canvas.style.height = h + 'px';
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const style = getComputedStyle(this);
    const fg = style.color || '#222';
    const line = style.getPropertyValue('--tern-chart-line').trim() || '#2a7ae2';
    const grid = style.getPropertyValue('--tern-chart-grid').trim() || 'rgba(128,128,128,0.25)';
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = fg;
    const pts = this._points;
    const label = this.getAttribute('label') || this.getAttribute('topic') || '';
    canvas.setAttribute('aria-label', label + (pts.length ? ': latest ' + pts[pts.length - 1][1] : ': no data yet'));
    if (pts.length === 0) {
      g.textBaseline = 'middle';
      g.fillText('Waiting for ' + label + '…', 8, h / 2);
      return;
    }
    let lo = Number(this.getAttribute('min'));
    let hi = Number(this.getAttribute('max'));
    if (!this.hasAttribute('min') || !Number.isFinite(lo)) {
      lo = Math.min(...pts.map((p) => p[1]));
    }
    if (!this.hasAttribute('max') || !Number.isFinite(hi)) {
      hi = Math.max(...pts.map((p) => p[1]));
    }
    if (hi === lo) {
      hi += 1;
      lo -= 1;
    }
    const fmt = (v) => (Math.abs(hi - lo) >= 10 ? v.toFixed(0) : v.toFixed(2));
    const left = Math.max(g.measureText(fmt(hi)).width, g.measureText(fmt(lo)).width) + 8;
    const top = 16;
    const bottom = h - 6;
    const right = w - 6;
    const y = (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
    // grid and scale
    g.strokeStyle = grid;
    g.lineWidth = 1;
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      const yy = Math.round(y(v)) + 0.5;
      g.beginPath();
      g.moveTo(left, yy);
      g.lineTo(right, yy);
      g.stroke();
      g.fillText(fmt(v), 2, yy);
    }
    // the line, evenly spaced by arrival
    const n = pts.length;
    const x = (i) => (n === 1 ? right : left + ((right - left) * i) / (n - 1));
    g.strokeStyle = line;
    g.lineWidth = 1.5;
    g.beginPath();
    pts.forEach((p, i) => {
      const yy = y(Math.min(hi, Math.max(lo, p[1])));
      if (i === 0) {
        g.moveTo(x(i), yy);
      } else {
        g.lineTo(x(i), yy);
      }
    });
    g.stroke();
    // the latest value
    g.textBaseline = 'top';
    g.textAlign = 'right';
    g.fillText(label + ': ' + pts[n - 1][1], right, 1);
    g.textAlign = 'left';
  }
}
