// Type declarations for tern.js, Tern's JS API: the global `Tern`
// that <script src="http://broker:8080/tern.js"></script> defines, and the
// custom elements <tern-connection>, <tern-value> and <tern-chart>.
// Served by the broker at /tern.d.ts.

declare namespace Tern {
  /** MQTT protocol version: 4 is MQTT 3.1.1, 5 is MQTT 5.0. */
  type ProtocolVersion = 4 | 5;
  type QoS = 0 | 1 | 2;
  /** User Properties: a key's one value, or its values in order. */
  type UserProperties = Record<string, string | string[]>;
  /** A payload to send: text is sent as UTF-8; numbers and booleans as their text. */
  type PayloadInput = string | Uint8Array | ArrayBuffer | ArrayBufferView | number | boolean | null | undefined;

  interface MessageProperties {
    payloadFormatIndicator?: boolean;
    /** Seconds; absent or 0: the message does not expire. */
    messageExpiryInterval?: number;
    contentType?: string;
    responseTopic?: string;
    correlationData?: string | Uint8Array;
    userProperties?: UserProperties;
  }

  interface WillOptions {
    topic: string;
    payload?: PayloadInput;
    qos?: QoS;
    retain?: boolean;
    properties?: MessageProperties & { willDelayInterval?: number };
  }

  interface ConnectOptions {
    /** ws:// or wss:// URL; default: /mqtt on the broker that served tern.js. */
    url?: string;
    /** Default 5. */
    protocolVersion?: ProtocolVersion;
    /** Default: "tern_" and 12 random hex digits. */
    clientId?: string;
    username?: string;
    password?: string | Uint8Array;
    /**
     * How the password is used: "password" (default) sends it in the
     * CONNECT; "scram-sha-256" logs in with MQTT 5.0 enhanced
     * authentication (SCRAM-SHA-256): the password never leaves the page,
     * the broker gets a proof and must prove it holds the user's
     * credentials in return. Needs protocolVersion 5 and a username.
     */
    auth?: "password" | "scram-sha-256";
    /** Seconds between packets before a PINGREQ; default 60; 0 turns keep-alive off. */
    keepalive?: number;
    /** Clean Start; default true. */
    clean?: boolean;
    /** Milliseconds before the first reconnect attempt (doubling up to maxReconnectPeriod); default 1000; 0: never reconnect. */
    reconnectPeriod?: number;
    /** Milliseconds; default 30000. */
    maxReconnectPeriod?: number;
    /** Milliseconds for each connection attempt; default 30000. */
    connectTimeout?: number;
    will?: WillOptions;
    /** CONNECT properties (MQTT 5.0). */
    properties?: {
      sessionExpiryInterval?: number;
      receiveMaximum?: number;
      maximumPacketSize?: number;
      topicAliasMaximum?: number;
      requestResponseInformation?: boolean;
      requestProblemInformation?: boolean;
      userProperties?: UserProperties;
    };
  }

  interface SubscribeOptions {
    /** Maximum QoS; default 0. */
    qos?: QoS;
    /** No Local (5.0): not the client's own messages. */
    nl?: boolean;
    /** Retain As Published (5.0). */
    rap?: boolean;
    /** Retain Handling (5.0): 0 send retained messages, 1 only for a new subscription, 2 never. */
    rh?: 0 | 1 | 2;
  }

  interface PublishOptions {
    /** Default 0. */
    qos?: QoS;
    retain?: boolean;
    properties?: MessageProperties;
  }

  interface EndOptions {
    /** DISCONNECT reason code; default 0 (Normal disconnection); 4 asks the server to publish the Will. */
    reasonCode?: number;
  }

  /** A received payload: its bytes, with text decoding. */
  class Payload extends Uint8Array {
    /** The payload as UTF-8 text. */
    text(): string;
    /** The payload parsed as JSON. */
    json(): any;
    /** The same as text(). */
    toString(): string;
  }

  interface PublishPacket {
    cmd: 'publish';
    topic: string;
    payload: Payload;
    qos: QoS;
    retain: boolean;
    dup: boolean;
    /** MQTT 5.0 properties, when the message has any. */
    properties?: {
      payloadFormatIndicator?: boolean;
      messageExpiryInterval?: number;
      contentType?: string;
      responseTopic?: string;
      correlationData?: Uint8Array;
      /** One number, or several when the message matched several subscriptions. */
      subscriptionIdentifier?: number | number[];
      userProperties?: UserProperties;
    };
  }

  interface Connack {
    /** The connection's handle inside tern.wasm. */
    handle: number;
    clientId: string;
    sessionPresent: boolean;
    reasonCode: number;
    /** CONNACK properties (5.0), named as in MQTT.js. */
    properties?: Record<string, unknown>;
  }

  type MessageCallback = (topic: string, payload: Payload, packet: PublishPacket) => void;

  /** Ends one subscription (its SUBSCRIBE is undone when it was the filter's last listener). */
  interface Unsubscribe {
    (): Promise<void>;
    /** The granted QoS. */
    readonly qos: number;
    readonly filter: string;
  }

  type ErrorKind =
    | 'invalid' // an argument was refused before anything was sent
    | 'reason' // the server answered with a failure reason code
    | 'dial' // the WebSocket could not be opened (wrong URL, broker down, origin not allowed)
    | 'closed' // the client has ended or lost its connection for good
    | 'not-connected' // a QoS 0 publish while reconnecting
    | 'timeout'
    | 'load' // tern.wasm could not be loaded
    | 'error';

  /** Every rejected promise and 'error' event carries a TernError. */
  class TernError extends Error {
    name: 'TernError';
    kind: ErrorKind;
    /** The MQTT reason code (e.g. 134 = 0x86 Bad User Name or Password), when there is one. */
    code?: number;
    /** The reason code's name in the MQTT specification. */
    codeName?: string;
    /** connect, publish, subscribe, unsubscribe, or disconnect (the server ended the connection). */
    op?: string;
    /** The normative statement broken (e.g. "MQTT-4.7.1-1"), for invalid topics. */
    rule?: string;
    url?: string;
    /** What to check, e.g. the broker's --allow-origin for a cross-origin page. */
    hint?: string;
    /** For the shared connection: milliseconds until the next attempt. */
    retryIn?: number;
  }

  interface ClientEvents {
    /** Each time a connection is up: right after connect() resolves, and after each reconnect. */
    connect: (connack: Connack) => void;
    /** A reconnect begins (the connection was lost and reconnectPeriod > 0). */
    reconnect: () => void;
    /** The connection closed. */
    close: () => void;
    /** Why the connection was lost (a server DISCONNECT's reason code, a network failure, no PINGRESP). */
    error: (err: TernError) => void;
    /** The client is finished: end() was called, or the connection was lost without reconnect. Every listener is dropped after it. */
    end: () => void;
  }

  interface Client {
    readonly url: string;
    readonly clientId: string;
    readonly connected: boolean;
    readonly ended: boolean;
    readonly connack: Connack | null;
    on<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): this;
    off<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): this;
    once<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): this;
    /** Subscribes; resolves after the SUBACK with the function that ends the subscription. */
    subscribe(filter: string, opts: SubscribeOptions | QoS, cb: MessageCallback): Promise<Unsubscribe>;
    subscribe(filter: string, cb: MessageCallback): Promise<Unsubscribe>;
    /** Publishes; resolves when the QoS flow completes (QoS 0: when written). */
    publish(topic: string, payload: PayloadInput, opts?: PublishOptions): Promise<void>;
    /** Disconnects and releases everything the client holds. */
    end(opts?: EndOptions): Promise<void>;
  }

  interface Stats {
    /** js.Func values alive in tern.wasm (its exported functions; none per connection or call). */
    funcs: number;
    /** Page functions tern.wasm references: one per open connection, one per call in progress. */
    held: number;
    clients: number;
    listeners: number;
    filters: number;
    goroutines: number;
    /** JavaScript values referenced from Go (wasm_exec.js's table), after tern.gc(). */
    goValues?: number;
  }

  interface API {
    connect(url?: string, opts?: ConnectOptions): Promise<Client>;
    connect(opts: ConnectOptions): Promise<Client>;
    stats(): Stats;
    /** Runs Go's garbage collector, so that stats().goValues drops what Go no longer references. */
    gc(): Promise<void>;
    TernError: typeof TernError;
    Payload: typeof Payload;
  }

  type SharedState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'error' | 'closed';

  interface SharedStatus {
    state: SharedState;
    url: string;
    clientId: string;
    error: TernError | null;
  }

  /** Loads tern.wasm (from next to tern.js, or opts.wasm) once per page. */
  function load(opts?: { wasm?: string }): Promise<API>;
  /** Tern.load(), then connect. */
  function connect(url?: string, opts?: ConnectOptions): Promise<Client>;
  /** Options of the shared connection used by the custom elements. */
  function configure(opts: ConnectOptions): void;
  /** The shared connection, made on first use; retries while the broker is unreachable. */
  function shared(): Promise<Client>;
  /** Calls fn with the shared connection's status now and on every change; returns the function that stops it. */
  function onStatus(fn: (status: SharedStatus) => void): () => void;
  const status: SharedStatus;
  /** Decodes bytes as UTF-8. */
  function text(bytes: Uint8Array): string;
  /** ws(s)://<the host that served tern.js>/mqtt */
  function defaultURL(): string;
}

/** <tern-connection url client-id username password auth protocol-version keepalive>: configures the shared connection and shows its status (data-state). */
interface TernConnectionElement extends HTMLElement {}

/** <tern-value topic qos json-path digits>: the latest value of a topic (data-state: connecting, live, error; title: the error). */
interface TernValueElement extends HTMLElement {}

/** <tern-chart topic qos json-path max-points min max height label>: a live line chart of a numeric topic. */
interface TernChartElement extends HTMLElement {
  /** The values shown, oldest first. */
  readonly values: number[];
}

interface HTMLElementTagNameMap {
  'tern-connection': TernConnectionElement;
  'tern-value': TernValueElement;
  'tern-chart': TernChartElement;
}

interface GlobalEventHandlersEventMap {
  /** Fired (bubbling) by <tern-value> and <tern-chart> for each message they show. */
  'tern-message': CustomEvent<{ topic: string; value: unknown; payload: Tern.Payload; packet: Tern.PublishPacket }>;
}
