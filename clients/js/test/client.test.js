// Unit tests of the client against a fake WebSocket: run with `node --test clients/js/test/`.
// The fake speaks the broker's frames as docs/PROTOCOL.md describes them, with and without
// the `id` field that hub-routed frames carry (acknowledged, repeats dropped).

import { mock, test } from "node:test";
import assert from "node:assert/strict";
import { BrokerClient, BrokerError } from "../oauth-broker-client.js";

class FakeSocket extends EventTarget {
  static all = [];
  static throwOnConstruct = 0;
  constructor(url) {
    super();
    if (FakeSocket.throwOnConstruct > 0) {
      FakeSocket.throwOnConstruct -= 1;
      throw new SyntaxError("refused by Content-Security-Policy");
    }
    this.url = url;
    this.sent = [];
    this.closed = false;
    FakeSocket.all.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.closed = true;
  }
  // ---- the broker's side ----
  frame(frame) {
    this.dispatchEvent(Object.assign(new Event("message"), { data: JSON.stringify(frame) }));
  }
  hello(session = "S".repeat(20), resume = "resume-1") {
    this.frame({ type: "hello", session, resume, providers: ["demo", "spotify"], heartbeat_secs: 10 });
  }
  drop(code = 1006) {
    this.dispatchEvent(Object.assign(new Event("close"), { code, reason: "" }));
  }
  fail() {
    this.dispatchEvent(new Event("error"));
  }
  lastSent(type) {
    return this.sent.filter((f) => f.type === type).at(-1);
  }
}

class MemoryStorage {
  constructor() {
    this.map = new Map();
  }
  getItem(k) {
    return this.map.has(k) ? this.map.get(k) : null;
  }
  setItem(k, v) {
    this.map.set(k, String(v));
  }
  removeItem(k) {
    this.map.delete(k);
  }
}

const tick = () => new Promise((r) => setImmediate(r));
async function until(what, check, ms = 3000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting until ${what}`);
}

function setup(extra = {}) {
  FakeSocket.all = [];
  const windows = [];
  const client = new BrokerClient({
    url: "https://broker.example.com/",
    storage: new MemoryStorage(),
    WebSocket: FakeSocket,
    openWindow: () => {
      const win = { closed: false, location: { href: "about:blank" }, opener: "page" };
      windows.push(win);
      return win;
    },
    onConfirmCode: async () => "ABCD-1234",
    ...extra,
  });
  const socket = () => FakeSocket.all.at(-1);
  return { client, socket, windows };
}

function signedin(provider, extra = {}) {
  return { type: "signedin", provider, access_token: "at-1", token_type: "Bearer", expires_in: 3600, scope: "s", refresh: "sealed-1", ...extra };
}

test("connects to the broker's /ws and is ready after hello", async () => {
  const { client, socket } = setup();
  assert.equal(socket().url, "wss://broker.example.com/ws");
  const states = [];
  client.addEventListener("statechange", (e) => states.push(e.detail.state));
  socket().hello();
  await client.ready;
  assert.equal(client.state, "ready");
  assert.deepEqual(client.providers, ["demo", "spotify"]);
  assert.deepEqual(states, ["ready"]);
  client.close();
});

test("sign-in opens the window at once, sends it to the link, confirms the code, resolves with the grant", async () => {
  const { client, socket, windows } = setup();
  socket().hello();
  await client.ready;
  const pending = client.signIn("demo");
  assert.equal(windows.length, 1, "the window opens in the click, before any await");
  assert.equal(windows[0].opener, null);
  await tick();
  assert.deepEqual(socket().lastSent("begin"), { type: "begin", provider: "demo" });
  socket().frame({ type: "signin", provider: "demo", url: "https://broker.example.com/signin/T1", expires_in: 120 });
  assert.equal(windows[0].location.href, "https://broker.example.com/signin/T1");
  socket().frame({ type: "confirm", provider: "demo", expires_in: 300 });
  await until("the code is sent", () => socket().lastSent("confirm"));
  assert.deepEqual(socket().lastSent("confirm"), { type: "confirm", code: "ABCD-1234" });
  socket().frame(signedin("demo", { id_token: "idt", claims: { sub: "u1" } }));
  const grant = await pending;
  assert.equal(grant.provider, "demo");
  assert.equal(grant.accessToken, "at-1");
  assert.equal(grant.tokenType, "Bearer");
  assert.equal(grant.scope, "s");
  assert.equal(grant.idToken, "idt");
  assert.deepEqual(grant.claims, { sub: "u1" });
  assert.ok(Math.abs(grant.expiresAt - (Date.now() + 3600_000)) < 5000);
  assert.equal(await client.accessToken("demo"), "at-1");
  client.close();
});

test("a blocked window hands the link to onLink", async () => {
  const { client, socket } = setup({ openWindow: () => null });
  socket().hello();
  let link = null;
  const pending = client.signIn("demo", { onLink: (url) => (link = url) });
  await tick();
  socket().frame({ type: "signin", provider: "demo", url: "https://broker.example.com/signin/T2", expires_in: 120 });
  assert.equal(link, "https://broker.example.com/signin/T2");
  socket().frame({ type: "confirm", provider: "demo", expires_in: 300 });
  await until("confirm sent", () => socket().lastSent("confirm"));
  socket().frame(signedin("demo"));
  await pending;
  client.close();
});

test("a blocked window without onLink rejects with window_blocked", async () => {
  const { client, socket } = setup({ openWindow: () => null });
  socket().hello();
  await assert.rejects(client.signIn("demo"), (e) => e instanceof BrokerError && e.code === "window_blocked");
  client.close();
});

test("a wrong code asks again with the reason; too many attempts rejects", async () => {
  const asked = [];
  const { client, socket } = setup({
    onConfirmCode: async (provider, previous) => {
      asked.push(previous ? previous.code : null);
      return "WRONG";
    },
  });
  socket().hello();
  const pending = client.signIn("demo");
  await tick();
  socket().frame({ type: "signin", provider: "demo", url: "https://broker.example.com/signin/T", expires_in: 120 });
  socket().frame({ type: "confirm", provider: "demo", expires_in: 300 });
  await until("first code", () => asked.length === 1);
  socket().frame({ type: "error", code: "bad_code", message: "4 tries left" });
  await until("second code", () => asked.length === 2);
  assert.deepEqual(asked, [null, "bad_code"]);
  socket().frame({ type: "error", code: "too_many_attempts", message: "cancelled" });
  await assert.rejects(pending, (e) => e.code === "too_many_attempts");
  client.close();
});

test("no code given means cancelled", async () => {
  const { client, socket } = setup({ onConfirmCode: async () => null });
  socket().hello();
  const pending = client.signIn("demo");
  await tick();
  socket().frame({ type: "signin", provider: "demo", url: "https://broker.example.com/signin/T", expires_in: 120 });
  socket().frame({ type: "confirm", provider: "demo", expires_in: 300 });
  await assert.rejects(pending, (e) => e.code === "cancelled");
  client.close();
});

test("an error about the sign-in rejects it with the contract's code", async () => {
  const { client, socket } = setup();
  socket().hello();
  const pending = client.signIn("demo");
  await tick();
  socket().frame({ type: "signin", provider: "demo", url: "https://broker.example.com/signin/T", expires_in: 120 });
  socket().frame({ type: "error", code: "expired", provider: "demo", message: "The sign-in link expired unused." });
  await assert.rejects(pending, (e) => e instanceof BrokerError && e.code === "expired" && e.message.includes("expired"));
  client.close();
});

test("frames with an id are acknowledged and a repeated id is dropped", async () => {
  const { client, socket } = setup();
  socket().hello();
  const events = [];
  client.addEventListener("signedin", (e) => events.push(e.detail.grant.accessToken));
  socket().frame({ ...signedin("demo", { access_token: "first" }), id: 7 });
  socket().frame({ ...signedin("demo", { access_token: "again" }), id: 7 });
  assert.deepEqual(events, ["first"]);
  const acks = socket().sent.filter((f) => f.type === "ack");
  assert.deepEqual(acks, [{ type: "ack", id: 7 }, { type: "ack", id: 7 }], "a repeat is acknowledged again, not acted on");
  assert.equal(await client.accessToken("demo"), "first");
  client.close();
});

test("frames without an id are neither acknowledged nor deduplicated", async () => {
  const { client, socket } = setup();
  socket().hello();
  const events = [];
  client.addEventListener("signedin", (e) => events.push(e.detail.grant.accessToken));
  socket().frame(signedin("demo", { access_token: "a" }));
  socket().frame(signedin("demo", { access_token: "b" }));
  assert.deepEqual(events, ["a", "b"]);
  assert.equal(socket().sent.filter((f) => f.type === "ack").length, 0);
  client.close();
});

test("accessToken refreshes through the sealed handle near expiry, once for concurrent callers", async () => {
  let now = 1_000_000;
  const { client, socket } = setup({ now: () => now });
  socket().hello();
  socket().frame(signedin("demo", { access_token: "old", expires_in: 120 }));
  assert.equal(await client.accessToken("demo"), "old");
  now += 90_000; // inside the renewal margin
  const a = client.accessToken("demo");
  const b = client.accessToken("demo");
  await tick();
  assert.equal(socket().sent.filter((f) => f.type === "refresh").length, 1);
  assert.deepEqual(socket().lastSent("refresh"), { type: "refresh", refresh: "sealed-1" });
  socket().frame(signedin("demo", { access_token: "new", refresh: "sealed-2" }));
  assert.deepEqual(await Promise.all([a, b]), ["new", "new"]);
  now += 3_600_000;
  const c = client.accessToken("demo");
  await tick();
  assert.deepEqual(socket().lastSent("refresh"), { type: "refresh", refresh: "sealed-2" }, "the rotated handle is used");
  socket().frame({ type: "error", code: "reauth_required", provider: "demo", message: "Sign in again." });
  await assert.rejects(c, (e) => e.code === "reauth_required");
  assert.equal(client.isSignedIn("demo"), false, "a dead handle is forgotten");
  client.close();
});

test("the sealed handle survives a new client on the same storage (a page reload)", async () => {
  const storage = new MemoryStorage();
  const first = setup({ storage });
  first.socket().hello();
  first.socket().frame(signedin("demo"));
  first.client.close();
  const second = setup({ storage });
  assert.ok(second.socket().url.includes("?resume=resume-1"), second.socket().url);
  second.socket().hello("T".repeat(20), "resume-2");
  assert.equal(second.client.isSignedIn("demo"), true);
  const token = second.client.accessToken("demo");
  await tick();
  assert.deepEqual(second.socket().lastSent("refresh"), { type: "refresh", refresh: "sealed-1" });
  second.socket().frame(signedin("demo", { access_token: "after-reload" }));
  assert.equal(await token, "after-reload");
  second.client.close();
});

test("fetch sends the bearer token and, on 401, refreshes once and retries", async () => {
  const calls = [];
  const { client, socket } = setup({
    fetch: async (url, init) => {
      calls.push(init.headers.get("Authorization"));
      return { status: calls.length === 1 ? 401 : 200 };
    },
  });
  socket().hello();
  socket().frame(signedin("demo", { access_token: "stale" }));
  const response = client.fetch("demo", "https://api.example.com/me");
  await until("a refresh is asked for", () => socket().lastSent("refresh"));
  socket().frame(signedin("demo", { access_token: "fresh" }));
  assert.equal((await response).status, 200);
  assert.deepEqual(calls, ["Bearer stale", "Bearer fresh"]);
  client.close();
});

test("a drop reconnects with the resume secret; a sign-in in progress survives it", async () => {
  const { client, socket } = setup();
  socket().hello("A".repeat(20), "r1");
  const pending = client.signIn("demo");
  await tick();
  socket().frame({ type: "signin", provider: "demo", url: "https://broker.example.com/signin/T", expires_in: 120 });
  const first = socket();
  first.drop(1006);
  assert.equal(client.state, "offline");
  await until("a new socket", () => FakeSocket.all.length === 2, 5000);
  assert.ok(socket().url.endsWith("?resume=r1"), socket().url);
  socket().hello("A".repeat(20), "r2");
  socket().frame({ type: "confirm", provider: "demo", expires_in: 300, id: 1 });
  await until("confirm sent", () => socket().lastSent("confirm"));
  socket().frame({ ...signedin("demo"), id: 2 });
  assert.equal((await pending).accessToken, "at-1");
  client.close();
});

test("a refused resume (a new session) ends the sign-in in progress with expired", async () => {
  const { client, socket } = setup();
  socket().hello("A".repeat(20), "r1");
  const pending = client.signIn("demo");
  await tick();
  socket().drop(1006);
  await until("a new socket", () => FakeSocket.all.length === 2, 5000);
  socket().hello("B".repeat(20), "r2");
  socket().frame({ type: "error", code: "expired", message: "this is a new session" });
  await assert.rejects(pending, (e) => e.code === "expired");
  client.close();
});

test("an error event without close (a CSP refusal) is shown as offline and retried", async () => {
  const { client, socket } = setup();
  const states = [];
  client.addEventListener("statechange", (e) => states.push(e.detail.state));
  socket().fail();
  assert.equal(client.state, "offline");
  await until("a retry", () => FakeSocket.all.length === 2, 5000);
  socket().hello();
  await client.ready;
  assert.deepEqual(states, ["offline", "connecting", "ready"]);
  client.close();
});

test("a constructor that throws is shown as offline and retried", async () => {
  FakeSocket.all = [];
  FakeSocket.throwOnConstruct = 1;
  const client = new BrokerClient({ url: "https://broker.example.com", storage: null, WebSocket: FakeSocket });
  assert.equal(client.state, "offline");
  await until("a retry", () => FakeSocket.all.length === 1, 5000);
  FakeSocket.all[0].hello();
  await client.ready;
  client.close();
});

test("1008 after a resume elsewhere stops reconnecting and says replaced", async () => {
  const { client, socket } = setup();
  socket().hello();
  let reason = null;
  client.addEventListener("statechange", (e) => (reason = e.detail.reason));
  socket().drop(1008);
  assert.equal(client.state, "offline");
  assert.equal(reason, "replaced");
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(FakeSocket.all.length, 1, "no reconnect that would take the session back");
  client.reconnect();
  assert.equal(FakeSocket.all.length, 2);
  client.close();
});

test("signOut forgets the grant and the sealed handle", async () => {
  const { client, socket } = setup();
  socket().hello();
  socket().frame(signedin("demo"));
  assert.equal(client.isSignedIn("demo"), true);
  client.signOut("demo");
  assert.equal(client.isSignedIn("demo"), false);
  await assert.rejects(client.accessToken("demo"), (e) => e.code === "reauth_required");
  client.close();
});

test("storage that throws (a blocked third-party iframe) falls back to memory", async () => {
  const hostile = {
    getItem() {
      throw new Error("SecurityError");
    },
    setItem() {
      throw new Error("SecurityError");
    },
    removeItem() {
      throw new Error("SecurityError");
    },
  };
  const { client, socket } = setup({ storage: hostile });
  socket().hello();
  socket().frame(signedin("demo"));
  assert.equal(client.isSignedIn("demo"), true);
  client.close();
});

test("close rejects what is pending with closed and does not reconnect", async () => {
  const { client, socket } = setup();
  socket().hello();
  const pending = client.signIn("demo");
  client.close();
  await assert.rejects(pending, (e) => e.code === "closed");
  assert.equal(client.state, "offline");
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(FakeSocket.all.length, 1);
});

test("without url, a module not served by a broker asks for one", () => {
  // Served by the broker the default is {public_url} (the module's own folder's parent);
  // imported from the file system there is no broker to default to.
  assert.throws(
    () => new BrokerClient({ storage: null, WebSocket: FakeSocket }),
    (e) => e instanceof BrokerError && e.message.includes("url"),
  );
});

test("signIn before the first hello signs in to the broker's first provider", async () => {
  const { client, socket, windows } = setup();
  const pending = client.signIn();
  socket().hello();
  await tick();
  assert.deepEqual(socket().lastSent("begin"), { type: "begin", provider: "demo" });
  socket().frame({ type: "signin", provider: "demo", url: "https://broker.example.com/signin/T3", expires_in: 120 });
  assert.equal(windows[0].location.href, "https://broker.example.com/signin/T3");
  socket().frame({ type: "confirm", provider: "demo", expires_in: 300 });
  await until("confirm sent", () => socket().lastSent("confirm"));
  socket().frame(signedin("demo"));
  assert.equal((await pending).provider, "demo");
  client.close();
});

test("resumeStorage keeps the resume secret apart from the sealed handles", async () => {
  const handles = new MemoryStorage();
  const perTab = new MemoryStorage();
  const { client, socket } = setup({ storage: handles, resumeStorage: perTab });
  socket().hello("S".repeat(20), "resume-tab");
  socket().frame(signedin("demo", { refresh: "sealed-tab" }));
  assert.deepEqual([...perTab.map.values()], ["resume-tab"]);
  assert.deepEqual([...handles.map.values()], ["sealed-tab"]);
  socket().drop();
  await until("it reconnects", () => FakeSocket.all.length === 2);
  assert.ok(socket().url.endsWith("?resume=resume-tab"), socket().url);
  client.close();
});

test("a localStorage that throws on access (blocked third-party iframe) means memory only", async () => {
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, "localStorage");
  Object.defineProperty(globalThis, "localStorage", {
    configurable: true,
    get() {
      throw new Error("SecurityError: access is denied for this document");
    },
  });
  try {
    FakeSocket.all = [];
    const client = new BrokerClient({ url: "https://broker.example.com", WebSocket: FakeSocket });
    FakeSocket.all[0].hello();
    FakeSocket.all[0].frame(signedin("demo"));
    assert.equal(client.isSignedIn("demo"), true, "the handle is kept in memory");
    client.close();
  } finally {
    if (descriptor) Object.defineProperty(globalThis, "localStorage", descriptor);
    else delete globalThis.localStorage;
  }
});

test("a code not confirmed within the confirm frame's expires_in ends the sign-in with expired", { timeout: 3000 }, async () => {
  const asked = [];
  const { client, socket } = setup({ onConfirmCode: (provider, previous) => new Promise(() => asked.push(previous)) });
  socket().hello();
  const pending = client.signIn("demo");
  await tick();
  socket().frame({ type: "signin", provider: "demo", url: "https://broker.example.com/signin/T", expires_in: 120 });
  socket().frame({ type: "confirm", provider: "demo", expires_in: 0.05 });
  await assert.rejects(pending, (e) => e.code === "expired" && e.message.includes("code expired"));
  assert.equal(asked.length, 1, "asked once, then given up when the broker no longer holds the tokens");
  client.close();
});

test("a confirm the broker does not answer asks for the code again, saying so", { timeout: 3000 }, async () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const asked = [];
    const { client, socket } = setup({
      onConfirmCode: async (provider, previous) => {
        asked.push(previous ? previous.code : null);
        return "ABCD1234";
      },
    });
    socket().hello();
    const pending = client.signIn("demo");
    await tick();
    socket().frame({ type: "signin", provider: "demo", url: "https://broker.example.com/signin/T", expires_in: 120 });
    socket().frame({ type: "confirm", provider: "demo", expires_in: 300 });
    for (let i = 0; i < 5 && !socket().lastSent("confirm"); i += 1) await tick();
    assert.ok(socket().lastSent("confirm"), "the code was sent");
    mock.timers.tick(14000);
    await tick();
    assert.deepEqual(asked, [null], "still waiting within the answer time");
    mock.timers.tick(2000);
    for (let i = 0; i < 5 && asked.length < 2; i += 1) await tick();
    assert.deepEqual(asked, [null, "unavailable"]);
    socket().frame(signedin("demo"));
    assert.equal((await pending).provider, "demo");
    client.close();
  } finally {
    mock.timers.reset();
  }
});
