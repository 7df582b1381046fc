// oauth-broker client: signs a page (a Tableau dashboard extension, or any page on an allowed
// origin) in to an OAuth 2.0 provider through an oauth-broker, over its WebSocket.
// One dependency-free ES module; the protocol it speaks is docs/PROTOCOL.md in the broker's
// repository. The access token lives in memory only; the sealed refresh handle and the resume
// secret go to `storage` (never workbook settings, which every viewer can read).

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30000;
/// A token this close to its expiry is renewed before use, so a request never leaves with a
/// token that dies on the way.
const REFRESH_MARGIN_MS = 60000;
/// How long the broker has to answer `begin` or `refresh` on an open connection.
const ANSWER_MS = 15000;
/// Ids remembered to drop repeated frames (delivery is at least once after a resume).
const SEEN_IDS = 256;
/// Close codes the broker uses: 1001 going away (restart), 1008 policy (this session was
/// resumed by another connection, or the origin was refused at the upgrade).
const GOING_AWAY = 1001;
const POLICY = 1008;

/** A failure for people and code alike: `code` is a contract error code, or `cancelled`,
 * `window_blocked`, `closed`, `replaced` (this session was opened in another window). */
export class BrokerError extends Error {
  constructor(code, message, provider) {
    super(message || code);
    this.name = "BrokerError";
    this.code = code;
    if (provider) this.provider = provider;
  }
}

function defaultBrokerUrl() {
  // The module is served at {public_url}/static/oauth-broker-client.js.
  try {
    return new URL("..", import.meta.url).href;
  } catch {
    return "";
  }
}

/** The browser's `localStorage`, or null where merely reading the property throws (a
 * third-party iframe with storage blocked raises SecurityError there). */
function browserStorage() {
  try {
    return globalThis.localStorage || null;
  } catch {
    return null;
  }
}

function trimSlash(url) {
  return String(url).replace(/\/+$/, "");
}

/** Storage that may be missing or refuse access (third-party iframes): never throws. */
class SafeStorage {
  constructor(area, prefix) {
    this.area = area || null;
    this.prefix = prefix;
    this.memory = new Map();
  }
  get(key) {
    const k = this.prefix + key;
    if (this.area) {
      try {
        const v = this.area.getItem(k);
        if (v !== null && v !== undefined) return v;
      } catch {
        /* blocked: memory only */
      }
    }
    return this.memory.has(k) ? this.memory.get(k) : null;
  }
  set(key, value) {
    const k = this.prefix + key;
    this.memory.set(k, value);
    if (this.area) {
      try {
        this.area.setItem(k, value);
      } catch {
        /* blocked or full: memory only */
      }
    }
  }
  remove(key) {
    const k = this.prefix + key;
    this.memory.delete(k);
    if (this.area) {
      try {
        this.area.removeItem(k);
      } catch {
        /* blocked */
      }
    }
  }
}

function grantFrom(frame, now) {
  const grant = {
    provider: frame.provider,
    accessToken: frame.access_token,
    tokenType: frame.token_type || "Bearer",
    expiresAt: now + Math.max(0, Number(frame.expires_in) || 0) * 1000,
    scope: frame.scope || "",
  };
  if (frame.id_token) grant.idToken = frame.id_token;
  if (frame.claims) grant.claims = frame.claims;
  return grant;
}

export class BrokerClient extends EventTarget {
  /**
   * @param {object} options see index.d.ts: url, onConfirmCode, storage, resumeStorage, and for tests or
   *   unusual hosts WebSocket, openWindow, fetch, now.
   */
  constructor(options = {}) {
    super();
    this.url = trimSlash(options.url || defaultBrokerUrl());
    if (!/^https?:\/\//.test(this.url)) {
      throw new BrokerError("invalid_message", "BrokerClient needs the broker's http(s) URL in `url`.");
    }
    this.onConfirmCode = options.onConfirmCode || null;
    const area = options.storage === undefined ? browserStorage() : options.storage;
    this.storage = new SafeStorage(area, `oauth-broker:${this.url}:`);
    // The resume secret may live apart from the handles: in sessionStorage each tab keeps its
    // own session, so two tabs of one dashboard do not take each other's session over.
    const resumeArea = options.resumeStorage === undefined ? area : options.resumeStorage;
    this.resumeStorage = new SafeStorage(resumeArea, `oauth-broker:${this.url}:`);
    this.WebSocketImpl = options.WebSocket || globalThis.WebSocket;
    this.openWindow = options.openWindow || ((url) => globalThis.open(url, "_blank"));
    this.fetchImpl = options.fetch || ((...args) => globalThis.fetch(...args));
    this.now = options.now || (() => Date.now());

    this.state = "connecting";
    this.providers = [];
    this.session = null;
    this.grants = new Map();
    this.refreshing = new Map();
    this.signins = new Map();
    this.seen = [];
    this.socket = null;
    this.closedByUser = false;
    this.attempt = 0;
    this.reconnectTimer = null;
    this.waitingForOpen = [];
    this.ready = new Promise((resolve) => {
      this.resolveReady = resolve;
    });
    this.connect();
  }

  // ---- connection ------------------------------------------------------------------------

  socketUrl() {
    const ws = this.url.replace(/^http/, "ws") + "/ws";
    const resume = this.resumeStorage.get("resume");
    return resume ? `${ws}?resume=${encodeURIComponent(resume)}` : ws;
  }

  setState(state, reason) {
    if (this.state === state && !reason) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("statechange", { detail: { state, reason: reason || null } }));
  }

  connect() {
    this.reconnectTimer = null;
    if (this.closedByUser) return;
    this.setState("connecting");
    let socket;
    try {
      socket = new this.WebSocketImpl(this.socketUrl());
    } catch (e) {
      // A URL the page's CSP refuses throws here in some browsers; retried like a drop.
      this.dropped(null, `the connection could not be opened (${e && e.message ? e.message : e})`);
      return;
    }
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.onFrame(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket === socket) this.dropped(event.code, event.reason);
    });
    socket.addEventListener("error", () => {
      // Chromium fires only `error` (no `close`) for a socket refused by the page's CSP:
      // treat it as the drop, and ignore a `close` that may still follow.
      if (this.socket !== socket) return;
      try {
        socket.close();
      } catch {
        /* already closing */
      }
      this.dropped(null, "the connection failed");
    });
  }

  dropped(code, reason) {
    this.socket = null;
    for (const waiter of this.waitingForOpen.splice(0)) waiter.offline();
    if (this.closedByUser) return this.setState("offline", "closed");
    if (code === POLICY && this.session) {
      // Resumed by another window: reconnecting would take it back and ping-pong forever.
      this.failAll(new BrokerError("replaced", "This dashboard was opened in another window; reload to use it here."));
      return this.setState("offline", "replaced");
    }
    this.setState("offline", code === POLICY ? "refused" : reason || null);
    const base = code === GOING_AWAY ? RECONNECT_MIN_MS : Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Reconnects now (after a `replaced` or while waiting out a back-off). */
  reconnect() {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.closedByUser = false;
    if (this.socket) return;
    this.connect();
  }

  send(frame) {
    if (!this.socket || this.state !== "ready") return false;
    try {
      this.socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Resolves once the connection is ready (at once when it is). */
  whenReady() {
    if (this.state === "ready") return Promise.resolve();
    if (this.closedByUser) return Promise.reject(new BrokerError("closed", "This client was closed."));
    return new Promise((resolve) => {
      this.waitingForOpen.push({ ready: resolve, offline: () => {} });
    });
  }

  onFrame(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    if (frame.id !== undefined && frame.id !== null) {
      // Acknowledge every time (the first ack may have been lost with the connection), but
      // act on an id once.
      this.send({ type: "ack", id: frame.id });
      const key = String(frame.id);
      if (this.seen.includes(key)) return;
      this.seen.push(key);
      if (this.seen.length > SEEN_IDS) this.seen.shift();
    }
    switch (frame.type) {
      case "hello":
        return this.onHello(frame);
      case "signin":
        return this.signins.get(frame.provider)?.onLink(frame);
      case "confirm":
        return this.confirming(frame.provider)?.onConfirm(frame);
      case "signedin":
        return this.onSignedIn(frame);
      case "error":
        return this.onError(frame);
      default:
        return undefined;
    }
  }

  onHello(frame) {
    const resumed = this.session !== null && frame.session === this.session;
    if (this.session !== null && !resumed) {
      // The broker did not know the old session: whatever it was doing is gone.
      this.failAll(new BrokerError("expired", "The connection to the sign-in service was lost for too long; sign in again."));
      this.seen = [];
    }
    this.session = frame.session;
    this.resumeStorage.set("resume", frame.resume);
    this.providers = Array.isArray(frame.providers) ? frame.providers.slice() : [];
    this.heartbeatSecs = frame.heartbeat_secs;
    this.attempt = 0;
    this.setState("ready");
    for (const waiter of this.waitingForOpen.splice(0)) waiter.ready();
    this.resolveReady();
  }

  confirming(provider) {
    if (provider && this.signins.has(provider)) return this.signins.get(provider);
    for (const s of this.signins.values()) if (s.stage === "confirm" || s.stage === "link") return s;
    return undefined;
  }

  onSignedIn(frame) {
    const grant = grantFrom(frame, this.now());
    this.grants.set(frame.provider, grant);
    if (frame.refresh) this.storage.set(`refresh:${frame.provider}`, frame.refresh);
    const refresh = this.refreshing.get(frame.provider);
    if (refresh) refresh.done(grant);
    const signin = this.signins.get(frame.provider);
    if (signin) signin.done(grant);
    this.dispatchEvent(new CustomEvent("signedin", { detail: { grant } }));
  }

  onError(frame) {
    const error = new BrokerError(frame.code || "unavailable", frame.message, frame.provider);
    if (frame.code === "expired" && !frame.provider && this.signins.size === 0 && this.refreshing.size === 0) {
      // A refused resume, with nothing in progress: only the event.
      this.dispatchEvent(new CustomEvent("error", { detail: { error } }));
      return;
    }
    const refresh = frame.provider ? this.refreshing.get(frame.provider) : this.refreshing.values().next().value;
    if (refresh && (frame.code === "reauth_required" || frame.code === "rate_limited" || refresh.provider === frame.provider)) {
      if (frame.code === "reauth_required") this.forget(refresh.provider);
      return refresh.fail(error);
    }
    const signin = this.confirming(frame.provider);
    if (signin) return signin.onError(error);
    this.dispatchEvent(new CustomEvent("error", { detail: { error } }));
  }

  failAll(error) {
    for (const s of [...this.signins.values()]) s.fail(error);
    for (const r of [...this.refreshing.values()]) r.fail(error);
  }

  // ---- signing in --------------------------------------------------------------------------

  /**
   * Call from a click: opens the sign-in window at once, then sends it to the link.
   * @returns {Promise<object>} the grant
   */
  signIn(provider, options = {}) {
    const name = provider || this.providers[0];
    let win = null;
    try {
      win = this.openWindow("about:blank");
    } catch {
      win = null;
    }
    if (win) {
      try {
        // The sign-in page has no business with this page.
        win.opener = null;
      } catch {
        /* cross-origin already */
      }
    }
    const previous = this.signins.get(name);
    if (previous) previous.fail(new BrokerError("cancelled", "A new sign-in was started.", name));
    return new Promise((resolve, reject) => {
      const attempt = new SigninAttempt(this, name, win, options, resolve, reject);
      this.signins.set(name, attempt);
      attempt.start();
    });
  }

  /** Whether this client holds a grant or a sealed handle for `provider`. */
  isSignedIn(provider) {
    return this.grants.has(provider) || this.storage.get(`refresh:${provider}`) !== null;
  }

  /** A current access token, renewed through the sealed handle when near expiry. */
  async accessToken(provider, { forceRefresh = false } = {}) {
    const grant = this.grants.get(provider);
    if (!forceRefresh && grant && grant.expiresAt - REFRESH_MARGIN_MS > this.now()) {
      return grant.accessToken;
    }
    return (await this.refresh(provider)).accessToken;
  }

  /** One renewal at a time per provider: concurrent callers share it. */
  refresh(provider) {
    const inflight = this.refreshing.get(provider);
    if (inflight) return inflight.promise;
    const handle = this.storage.get(`refresh:${provider}`);
    if (!handle) {
      return Promise.reject(new BrokerError("reauth_required", "Not signed in; sign in first.", provider));
    }
    let entry;
    const promise = new Promise((resolve, reject) => {
      let timer = null;
      const finish = () => {
        if (timer) clearTimeout(timer);
        if (this.refreshing.get(provider) === entry) this.refreshing.delete(provider);
      };
      entry = {
        provider,
        done: (grant) => {
          finish();
          resolve(grant);
        },
        fail: (error) => {
          finish();
          reject(error);
        },
      };
      this.refreshing.set(provider, entry);
      this.whenReady().then(
        () => {
          if (this.refreshing.get(provider) !== entry) return;
          if (!this.send({ type: "refresh", refresh: handle })) {
            return entry.fail(new BrokerError("unavailable", "The sign-in service cannot be reached just now.", provider));
          }
          timer = setTimeout(() => entry.fail(new BrokerError("unavailable", "The sign-in service did not answer.", provider)), ANSWER_MS);
        },
        (error) => entry.fail(error),
      );
    });
    entry.promise = promise;
    return promise;
  }

  /** `fetch` with the provider's bearer token; on 401, one renewal and one retry. */
  async fetch(provider, input, init = {}) {
    const withToken = (token) => {
      const headers = new Headers(init.headers || {});
      headers.set("Authorization", `Bearer ${token}`);
      return this.fetchImpl(input, { ...init, headers });
    };
    const response = await withToken(await this.accessToken(provider));
    if (response.status !== 401 || !this.storage.get(`refresh:${provider}`)) return response;
    return withToken(await this.accessToken(provider, { forceRefresh: true }));
  }

  /** Forgets the grant and the sealed handle here (the provider's own session stays). */
  signOut(provider) {
    this.forget(provider);
    const signin = this.signins.get(provider);
    if (signin) signin.fail(new BrokerError("cancelled", "Signed out.", provider));
  }

  forget(provider) {
    this.grants.delete(provider);
    this.storage.remove(`refresh:${provider}`);
  }

  /** Closes the connection for good; pending calls reject with `closed`. */
  close() {
    this.closedByUser = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.failAll(new BrokerError("closed", "This client was closed."));
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      try {
        socket.close(1000);
      } catch {
        /* already closed */
      }
    }
    this.setState("offline", "closed");
  }
}

/** One sign-in: link, window, optional confirmation code, tokens. */
class SigninAttempt {
  constructor(client, provider, win, options, resolve, reject) {
    this.client = client;
    this.provider = provider;
    this.win = win;
    this.onLinkCallback = options.onLink || null;
    this.signal = options.signal || null;
    this.resolve = resolve;
    this.reject = reject;
    this.stage = "begin";
    this.timer = null;
    this.expiry = null;
    this.finished = false;
  }

  start() {
    if (this.signal) {
      if (this.signal.aborted) return this.fail(new BrokerError("cancelled", "The sign-in was cancelled.", this.provider));
      this.signal.addEventListener("abort", () => this.fail(new BrokerError("cancelled", "The sign-in was cancelled.", this.provider)), { once: true });
    }
    if (!this.win && !this.onLinkCallback) {
      return this.fail(new BrokerError("window_blocked", "The browser blocked the sign-in window; allow pop-ups for this page, or give signIn an onLink.", this.provider));
    }
    this.client.whenReady().then(
      () => this.begin(),
      (error) => this.fail(error),
    );
  }

  begin() {
    if (this.finished) return;
    if (!this.provider && this.client.providers.length) {
      // signIn() before the first hello: the broker's default is its first provider.
      this.client.signins.delete(this.provider);
      this.provider = this.client.providers[0];
      this.client.signins.get(this.provider)?.fail(new BrokerError("cancelled", "A new sign-in was started.", this.provider));
      this.client.signins.set(this.provider, this);
    }
    const frame = { type: "begin" };
    if (this.provider) frame.provider = this.provider;
    if (!this.client.send(frame)) {
      return this.fail(new BrokerError("unavailable", "The sign-in service cannot be reached just now.", this.provider));
    }
    this.stage = "link";
    this.timer = setTimeout(() => this.fail(new BrokerError("unavailable", "The sign-in service did not answer.", this.provider)), ANSWER_MS);
  }

  onLink(frame) {
    if (this.finished || this.stage !== "link") return;
    clearTimeout(this.timer);
    this.stage = "window";
    let url;
    try {
      url = new URL(frame.url);
    } catch {
      return this.fail(new BrokerError("invalid_message", "The sign-in service sent a link that is not a URL.", this.provider));
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      return this.fail(new BrokerError("invalid_message", "The sign-in service sent a link that is not http(s).", this.provider));
    }
    let opened = false;
    if (this.win && !this.win.closed) {
      try {
        this.win.location.href = url.href;
        opened = true;
      } catch {
        opened = false;
      }
    }
    if (!opened) {
      if (!this.onLinkCallback) {
        return this.fail(new BrokerError("window_blocked", "The sign-in window was closed or blocked.", this.provider));
      }
      this.onLinkCallback(url.href);
    }
  }

  async onConfirm(frame) {
    if (this.finished) return;
    this.stage = "confirm";
    // The broker holds the tokens for `expires_in`; past it no code can work, so the person
    // is not left typing into a form that cannot succeed.
    const ttl = Number(frame && frame.expires_in) * 1000;
    clearTimeout(this.expiry);
    if (ttl > 0) {
      this.expiry = setTimeout(() => this.fail(new BrokerError("expired", "The code expired before it was confirmed; sign in again.", this.provider)), ttl);
    }
    await this.askForCode(null);
  }

  async askForCode(previousError) {
    clearTimeout(this.timer);
    if (!this.client.onConfirmCode) {
      return this.fail(new BrokerError("cancelled", "The broker asks for a confirmation code, and this page gave no onConfirmCode.", this.provider));
    }
    let code;
    try {
      code = await this.client.onConfirmCode(this.provider, previousError);
    } catch (e) {
      return this.fail(e instanceof BrokerError ? e : new BrokerError("cancelled", "The confirmation code was not given.", this.provider));
    }
    if (this.finished) return;
    if (code === null || code === undefined || String(code).trim() === "") {
      return this.fail(new BrokerError("cancelled", "The sign-in was cancelled.", this.provider));
    }
    await this.client.whenReady();
    if (this.finished) return;
    if (!this.client.send({ type: "confirm", code: String(code) })) {
      return this.fail(new BrokerError("unavailable", "The sign-in service cannot be reached just now.", this.provider));
    }
    // No answer: the code may be typed again (the broker still holds the attempt).
    this.timer = setTimeout(() => this.onError(new BrokerError("unavailable", "The sign-in service did not answer; type the code again.", this.provider)), ANSWER_MS);
  }

  onError(error) {
    if (this.finished) return;
    if (this.stage === "confirm" && (error.code === "bad_code" || error.code === "unavailable")) {
      // The attempt is still held: ask again, saying why.
      this.askForCode(error);
      return;
    }
    this.fail(error);
  }

  done(grant) {
    if (this.finished) return;
    this.end();
    this.resolve(grant);
  }

  fail(error) {
    if (this.finished) return;
    this.end();
    this.reject(error);
  }

  end() {
    this.finished = true;
    clearTimeout(this.timer);
    clearTimeout(this.expiry);
    if (this.client.signins.get(this.provider) === this) this.client.signins.delete(this.provider);
  }
}
