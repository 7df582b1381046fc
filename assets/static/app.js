// The broker's own extension page: a Tableau dashboard extension that signs its viewer in to
// an OAuth provider and shows their favourite artists. Everything about the broker (the
// WebSocket, resuming a dropped session, acknowledging frames, the sign-in window, renewing
// tokens) is the JavaScript client's job (clients/js in the broker's repository, served beside
// this file); this page only decides what people see. Copy it as a start for your own.
//
// It runs under a strict CSP (no inline script or style, no eval): it toggles `hidden`, text
// and attributes only, and writes what the provider sends with textContent, never as HTML.

import { BrokerClient, BrokerError } from "./oauth-broker-client.js";

// Opened on its own (not in a dashboard), Tableau's library waits for a Tableau that never
// answers.
const TABLEAU_INIT_TIMEOUT_MS = 8000;
// The client renews a token that expires within a minute when it is used; the page uses it
// then, so a dashboard left open stays signed in.
const RENEW_BEFORE_EXPIRY_MS = 50000;
const RENEW_AT_MOST_EVERY_MS = 5000;
const API_RETRY_MS = 30000;
const MAX_TIMER_MS = 2147483647; // setTimeout fires at once beyond this

const $ = (id) => document.getElementById(id);
// The page's elements by id, as camelCase names (`signin-link` is `ui.signinLink`).
const ui = {};
for (const id of ["title", "status", "error", "provider-row", "provider", "signin", "reclaim", "panel-ready",
  "panel-waiting", "signin-link", "waiting-hint", "panel-code", "code", "code-submit", "panel-cancel",
  "cancel", "panel-signedin", "result", "signout", "panel-configure", "configure-provider",
  "configure-save", "configure-cancel", "configure-error", "mode"]) {
  ui[id.replace(/-(.)/g, (_, c) => c.toUpperCase())] = $(id);
}

// What the broker rendered into the page: its address, and the providers with their labels
// and API addresses (the client itself learns only their names).
function readConfig() {
  let raw = {};
  try {
    raw = JSON.parse($("broker-config").textContent) || {};
  } catch {
    raw = {}; // opened without the broker's template: the client's defaults
  }
  const providers = (Array.isArray(raw.providers) ? raw.providers : [])
    .filter((p) => p && typeof p.name === "string" && p.name)
    .map((p) => ({ name: p.name, label: p.label || p.name, apiUrl: String(p.apiUrl || "").replace(/\/+$/, "") }));
  return { brokerUrl: raw.brokerUrl || undefined, providers, tableauApiUrl: raw.tableauApiUrl || "" };
}
const config = readConfig();

// Storage the browser may refuse even to name (a third-party iframe with storage blocked).
function storage(name) {
  try {
    return window[name] || null;
  } catch {
    return null;
  }
}

// ---- the page's state: one object, drawn by render() ----------------------------------------

const page = {
  view: "connecting", // connecting | ready | waiting | code | signedin | error | offline
  error: { code: "", message: "" },
  notice: "", // one line for the ready view ("You are signed out.")
  connected: false,
  everConnected: false,
  attempt: null, // { controller, session, link: { url, used } | null } while signing in
  codeAnswer: null, // resolves the client's onConfirmCode while the form is shown
  checking: false, // a code was sent, its answer is awaited
  grant: null, // the signed-in grant (memory only)
  continuing: null, // provider whose earlier sign-in is being renewed after a reload
  renewTimer: null,
  apiSeq: 0, // drops answers of API calls a sign-out made stale
  dashboardProvider: null, // a dashboard author's choice (Configure)
  configuring: false, // Configure is open: it takes the whole zone, however small
  mode: "unknown",
};

const providerInfo = (name) => config.providers.find((p) => p.name === name) || null;
const labelOf = (name) => (providerInfo(name) || { label: name || "the service" }).label;

function selectedProvider() {
  if (page.grant) return page.grant.provider;
  if (providerInfo(page.dashboardProvider)) return page.dashboardProvider;
  if (providerInfo(ui.provider.value)) return ui.provider.value;
  return config.providers.length ? config.providers[0].name : broker && broker.providers[0];
}

function setView(view, error) {
  if (view !== page.view) page.notice = "";
  page.view = view;
  if (error !== undefined) page.error = error;
}
const noError = { code: "", message: "" };

// Every contract error code and the client's own, said once for people.
function messageFor(error) {
  const service = labelOf(error.provider || selectedProvider());
  switch (error.code) {
    case "access_denied":
      return "Access was declined in the sign-in window. Press Sign in to try again.";
    case "expired":
      return "The sign-in took too long and expired. Press Sign in to start again.";
    case "provider_error":
      return `${service} had a problem finishing the sign-in. Wait a moment, then press Sign in to try again.`;
    case "bad_code":
      return "That code doesn't match. Check the code in the sign-in window and type it again.";
    case "too_many_attempts":
      return "Too many wrong codes, so this sign-in was stopped for safety. Press Sign in to start again.";
    case "rate_limited":
      return "Too many attempts in a short time. Wait a minute, then try again.";
    case "reauth_required":
      return "Please sign in again: your saved sign-in is no longer valid.";
    case "unavailable":
      return "The sign-in service is busy or didn't answer. Try again in a minute.";
    case "unknown_provider":
      return `The sign-in service doesn't offer ${service}. Ask the dashboard's author to check the extension's settings.`;
    case "window_blocked":
      return "The sign-in window was blocked. Press Sign in again, or allow pop-ups for this dashboard.";
    case "replaced":
      return "This dashboard was opened in another window or tab, which now has the sign-in.";
    case "session_lost":
      return "The connection to the sign-in service was reset, so this sign-in can't finish. Please sign in again.";
    default:
      return error.message || "Something went wrong. Press Sign in to try again.";
  }
}

function statusText() {
  const service = labelOf(selectedProvider());
  const suffix = page.connected ? "" : " Connection lost; reconnecting…";
  switch (page.view) {
    case "connecting":
      return page.everConnected || !page.error.code ? "Connecting…" : "Can't reach the sign-in service yet. Trying again…";
    case "offline":
      return "Connection lost; reconnecting…";
    case "ready":
      if (page.continuing) return "Continuing your previous sign-in…";
      return page.notice || "Not signed in."; // the button beside it says what to do
    case "waiting":
      if (page.attempt && page.attempt.link && !page.attempt.link.used) return `Open the sign-in page to sign in to ${service}.${suffix}`;
      return `Sign in to ${service} in the other window.${suffix}`;
    case "code":
      return (page.checking ? "Checking the code…" : "Almost done: type the code.") + suffix;
    case "signedin":
      return `Signed in to ${service}.${suffix}`;
    case "error":
      return page.error.code === "replaced" ? "Open in another window." : "Not signed in.";
    default:
      return "";
  }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function render() {
  const v = page.view;
  const provider = selectedProvider();
  document.body.dataset.state = v;
  document.body.dataset.error = page.error.code;
  setText(ui.title, provider ? labelOf(provider) : "Sign in");
  document.title = ui.title.textContent;
  setText(ui.status, statusText());
  setText(ui.error, page.error.message);

  ui.panelReady.hidden = !["connecting", "ready", "error", "offline"].includes(v);
  ui.signin.disabled = !page.connected || Boolean(page.continuing);
  ui.signin.hidden = page.error.code === "replaced";
  ui.reclaim.hidden = page.error.code !== "replaced";
  setText(ui.signin, provider ? `Sign in to ${labelOf(provider)}` : "Sign in");
  ui.providerRow.hidden = config.providers.length < 2 || Boolean(providerInfo(page.dashboardProvider));
  ui.provider.disabled = !["ready", "error"].includes(v);

  ui.panelWaiting.hidden = v !== "waiting";
  const link = page.attempt && page.attempt.link;
  if (link && !link.used) {
    ui.signinLink.setAttribute("href", link.url);
    ui.signinLink.removeAttribute("role");
    setText(ui.signinLink, "Open the sign-in page");
  } else {
    // A window got the link (or it was followed): tickets are single use, so this mints a new one.
    ui.signinLink.removeAttribute("href");
    ui.signinLink.setAttribute("role", "button");
    ui.signinLink.tabIndex = 0;
    setText(ui.signinLink, "Get a new sign-in page");
  }

  ui.waitingHint.hidden = Boolean(link && !link.used);
  ui.panelCode.hidden = v !== "code";
  ui.codeSubmit.disabled = page.checking || !page.codeAnswer;
  ui.panelCancel.hidden = !(v === "waiting" || v === "code");
  ui.panelSignedin.hidden = v !== "signedin";

  ui.panelConfigure.hidden = !page.configuring;
  if (page.configuring) {
    for (const node of [ui.status, ui.error, ui.panelReady, ui.panelWaiting, ui.panelCode, ui.panelCancel, ui.panelSignedin]) node.hidden = true;
  } else {
    ui.status.hidden = false;
    ui.error.hidden = false;
  }
}

// Keyboard users: when the focused control disappears, focus the next useful one.
function moveFocus(target) {
  const active = document.activeElement;
  if (!active || active === document.body || active.closest("[hidden]")) target.focus();
}

// ---- the client -----------------------------------------------------------------------------

let broker = null;
try {
  broker = new BrokerClient({
    url: config.brokerUrl,
    onConfirmCode: askForCode,
    storage: storage("localStorage"),
    // Per tab: two tabs of one dashboard each keep their own session.
    resumeStorage: storage("sessionStorage"),
  });
} catch (e) {
  setView("error", { code: "no_broker", message: `This page can't find its sign-in service: ${e.message}` });
}

function onConnection(event) {
  const { state, reason } = event.detail;
  page.connected = state === "ready";
  if (state === "ready") {
    page.everConnected = true;
    // (A grant survives "Use it here": the page lost its connection, not its token.)
    if (["connecting", "offline"].includes(page.view)) setView(page.grant ? "signedin" : "ready", noError);
    if (!page.grant && !page.continuing) continuePreviousSignin();
  } else if (state === "offline" && reason === "replaced") {
    // Reconnecting would take the session back, and the two windows would take turns for ever.
    endAttempt();
    setView("error", { code: "replaced", message: messageFor({ code: "replaced" }) });
  } else if (state === "offline" && ["ready", "connecting"].includes(page.view)) {
    setView(page.everConnected ? "offline" : "connecting", { code: page.everConnected ? "" : "unreachable", message: "" });
  }
  render();
}

// A grant from a sign-in, or a renewal of the one shown.
function onGrant(event) {
  const { grant } = event.detail;
  if (page.continuing === grant.provider) {
    page.continuing = null;
    showSignedIn(grant);
  } else if (page.grant && page.grant.provider === grant.provider) {
    page.grant = grant;
    scheduleRenewal();
    render();
  }
}

// An error that belongs to no sign-in in progress. `expired` alone is the broker saying it did
// not know the old session: nothing was going on, so nothing to tell.
function onStrayError(event) {
  const { error } = event.detail;
  if (error.code === "expired" || page.view === "signedin") return;
  setView(page.view === "ready" ? "error" : page.view, { code: error.code, message: messageFor(error) });
  render();
}

// ---- signing in: the client opens the window, the page shows where it stands ------------------

async function signIn() {
  if (!broker || !page.connected) return;
  const provider = selectedProvider();
  if (page.attempt) page.attempt.controller.abort();
  const attempt = { controller: new AbortController(), session: broker.session, link: null };
  page.attempt = attempt;
  setView("waiting", noError);
  render();
  moveFocus(ui.cancel);
  try {
    // Called in the click itself: the client opens the window before anything is awaited.
    const grant = await broker.signIn(provider, {
      signal: attempt.controller.signal,
      // No window could be opened (blocked, or Tableau Desktop): the link is shown instead.
      onLink: (url) => {
        if (page.attempt !== attempt) return;
        attempt.link = { url, used: false };
        render();
        moveFocus(ui.signinLink);
      },
    });
    if (page.attempt !== attempt) return;
    endAttempt();
    showSignedIn(grant);
  } catch (error) {
    if (page.attempt !== attempt) return; // replaced by a newer attempt, or cancelled
    endAttempt();
    signinFailed(error, attempt);
  }
}

function signinFailed(error, attempt) {
  if (!(error instanceof BrokerError)) throw error;
  if (error.code === "replaced") return render(); // onConnection said it
  // The client says `expired` when the broker no longer knew the session (it restarted
  // without Redis): that is the connection's fault, not the person's slowness.
  const lost = error.code === "expired" && broker.session !== attempt.session;
  const code = lost ? "session_lost" : error.code;
  setView(lost ? "ready" : "error", { code, message: messageFor({ ...error, code }) });
  render();
  moveFocus(ui.signin);
}

function endAttempt() {
  page.attempt = null;
  page.checking = false;
  if (page.codeAnswer) page.codeAnswer(null);
  page.codeAnswer = null;
}

// The client calls this when the broker asks for the code shown in the sign-in window (and
// again, with the reason, after a wrong one); the promise resolves when the form is sent.
function askForCode(provider, previousError) {
  setView("code", previousError ? { code: previousError.code, message: messageFor(previousError) } : noError);
  page.checking = false;
  if (!previousError) ui.code.value = "";
  const answer = new Promise((resolve) => {
    page.codeAnswer = resolve;
  });
  render();
  ui.code.focus();
  if (previousError) ui.code.select();
  return answer;
}

function onCodeSubmit(event) {
  event.preventDefault();
  if (!page.codeAnswer || page.checking) return;
  // People copy codes with spaces or dashes and in any case; the broker wants letters and digits.
  const code = ui.code.value.toUpperCase().replace(/[\s\-\u2010-\u2015]+/g, "");
  if (!/^[A-Z0-9]+$/.test(code)) {
    page.error = { code: "code_invalid", message: code ? "The code has only letters and digits. Check what you typed." : "Type the code shown in the sign-in window first." };
    render();
    ui.code.focus();
    return;
  }
  page.error = noError;
  page.checking = true;
  const answer = page.codeAnswer;
  page.codeAnswer = null;
  answer(code);
  render();
}

function onLinkClick(event) {
  const link = page.attempt && page.attempt.link;
  if (link && !link.used) {
    link.used = true; // the browser follows it: the next click needs a fresh one
    setTimeout(render, 0);
    return;
  }
  event.preventDefault();
  signIn();
}

function onCancel() {
  if (page.attempt) page.attempt.controller.abort();
  endAttempt();
  setView("ready", noError);
  render();
  moveFocus(ui.signin);
}

// ---- signed in: the provider's API through the client -------------------------------------------

function showSignedIn(grant) {
  page.grant = grant;
  setView("signedin", noError);
  scheduleRenewal();
  render();
  moveFocus(ui.signout);
  loadArtists();
}

// After a reload: the client keeps the sealed handle, so a renewal signs the person back in.
function continuePreviousSignin() {
  const provider = selectedProvider();
  if (!provider || !broker.isSignedIn(provider)) return;
  page.continuing = provider;
  broker.accessToken(provider).catch((error) => {
    if (page.continuing !== provider) return;
    page.continuing = null;
    page.error = { code: error.code, message: `Couldn't continue your previous sign-in: ${messageFor(error)}` };
    render();
  });
}

function scheduleRenewal() {
  clearTimeout(page.renewTimer);
  const wait = page.grant.expiresAt - Date.now() - RENEW_BEFORE_EXPIRY_MS;
  page.renewTimer = setTimeout(loadArtists, Math.min(MAX_TIMER_MS, Math.max(RENEW_AT_MOST_EVERY_MS, wait)));
}

function showResult(...nodes) {
  ui.result.replaceChildren(...nodes);
}
const element = (tag, text, className) => Object.assign(document.createElement(tag), { textContent: text, className: className || "" });

async function loadArtists() {
  const grant = page.grant;
  if (!grant) return;
  const info = providerInfo(grant.provider);
  const service = labelOf(grant.provider);
  if (!info || !info.apiUrl) return showResult(element("p", `Signed in. (This page has no API address for ${service}.)`));
  const seq = ++page.apiSeq;
  if (!ui.result.querySelector(".favourite")) showResult(element("p", "Loading your favourite artists…"));
  let names;
  try {
    // The client adds the bearer token, renews it when near expiry, and retries once on 401.
    const response = await broker.fetch(grant.provider, `${info.apiUrl}/me/top/artists?limit=5`, {
      headers: { Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
    if (!response.ok) throw new Error(`${service} answered with an error (HTTP ${response.status}).`);
    const body = await response.json();
    names = (Array.isArray(body.items) ? body.items : []).map((a) => String((a && a.name) || "").trim()).filter(Boolean).slice(0, 5);
  } catch (error) {
    if (seq === page.apiSeq) apiFailed(error, service);
    return;
  }
  if (seq !== page.apiSeq) return;
  if (page.error.code === "api_failed") page.error = noError;
  if (!names.length) showResult(element("p", "No top artists yet."));
  else {
    const favourite = element("p", "Your favourite artist: ", "favourite");
    favourite.append(element("strong", names[0]));
    const list = element("ol", "", "artists");
    list.setAttribute("aria-label", "Your top artists");
    list.append(...names.map((name) => element("li", name)));
    showResult(favourite, list);
  }
  render();
}

function apiFailed(error, service) {
  if (error instanceof BrokerError && error.code === "reauth_required") {
    // Nothing left to renew with: back to Sign in.
    signedOut({ code: error.code, message: messageFor(error) });
    return;
  }
  let why = error.message;
  if (error instanceof BrokerError) why = `Couldn't renew your sign-in just now: ${messageFor(error)}`;
  else if (error instanceof TypeError) why = `Couldn't reach ${service}. Check your connection.`; // fetch's network failure
  else if (error instanceof SyntaxError) why = `${service} sent an answer this page can't read.`;
  page.error = { code: "api_failed", message: `${why} The page tries again shortly.` };
  if (!ui.result.querySelector(".favourite")) showResult(element("p", "Couldn't load your artists."));
  clearTimeout(page.renewTimer);
  page.renewTimer = setTimeout(loadArtists, API_RETRY_MS);
  render();
}

function signedOut(error) {
  if (page.grant) broker.signOut(page.grant.provider);
  page.grant = null;
  page.apiSeq += 1; // drop the answer of any API call still running
  clearTimeout(page.renewTimer);
  showResult();
  setView("ready", error);
  render();
  moveFocus(ui.signin);
}

// ---- Tableau: which dashboard, and Configure (the provider this dashboard signs in to) --------

function setMode(mode, detail) {
  page.mode = mode;
  document.body.dataset.mode = mode;
  const text = {
    tableau: `Running in Tableau${detail ? ` · ${detail}` : ""}`,
    // Not "outside Tableau": without the library the page cannot tell.
    nolibrary: `Tableau's Extensions API library did not load (${config.tableauApiUrl || "not configured"}), so this page cannot talk to Tableau`,
    standalone: "Running outside Tableau",
  }[mode];
  setText(ui.mode, text);
}

function onConfigure() {
  ui.configureProvider.replaceChildren(...config.providers.map((p) => Object.assign(document.createElement("option"), { value: p.name, textContent: p.label })));
  ui.configureProvider.value = selectedProvider() || "";
  setText(ui.configureError, "");
  page.configuring = true;
  render();
  ui.configureProvider.focus();
}

async function onConfigureSave() {
  const name = ui.configureProvider.value;
  ui.configureSave.disabled = true;
  try {
    const settings = window.tableau.extensions.settings;
    // The provider's name only: workbook settings are readable by every viewer.
    settings.set("provider", name);
    await settings.saveAsync();
    page.dashboardProvider = name;
    page.configuring = false;
    render();
  } catch (e) {
    setText(ui.configureError, `Tableau could not save the setting: ${e && e.message ? e.message : e}`);
  } finally {
    ui.configureSave.disabled = false;
  }
}

async function startTableau() {
  let extensions = null;
  try {
    extensions = window.tableau && window.tableau.extensions;
  } catch {
    extensions = null;
  }
  // The library's script element comes before this module: no `tableau` means it failed.
  if (!extensions || typeof extensions.initializeAsync !== "function") return setMode("nolibrary");
  setText(ui.mode, "Connecting to Tableau…");
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("no answer")), TABLEAU_INIT_TIMEOUT_MS));
  try {
    await Promise.race([extensions.initializeAsync({ configure: onConfigure }), timeout]);
  } catch {
    return setMode("standalone"); // the library, but no Tableau around it
  }
  let dashboard = "";
  try {
    dashboard = extensions.dashboardContent.dashboard.name || "";
    const saved = extensions.settings.get("provider");
    if (providerInfo(saved)) page.dashboardProvider = saved;
  } catch {
    /* an older Tableau: no dashboard name, no settings */
  }
  setMode("tableau", dashboard);
  render();
}

// ---- start ------------------------------------------------------------------------------------

ui.provider.replaceChildren(...config.providers.map((p) => Object.assign(document.createElement("option"), { value: p.name, textContent: p.label })));
ui.provider.addEventListener("change", () => render());
ui.signin.addEventListener("click", signIn);
ui.signinLink.addEventListener("click", onLinkClick);
// Without an href the link is a button (role="button"): Enter and Space press it.
ui.signinLink.addEventListener("keydown", (e) => {
  if ((e.key === "Enter" || e.key === " ") && !ui.signinLink.hasAttribute("href")) onLinkClick(e);
});
ui.panelCode.addEventListener("submit", onCodeSubmit);
ui.cancel.addEventListener("click", onCancel);
// Connects again: the other window spent the resume secret, so this one gets a session of its
// own and the other window keeps its.
ui.reclaim.addEventListener("click", () => {
  setView("connecting", noError);
  render();
  broker.reconnect();
});
ui.signout.addEventListener("click", () => {
  signedOut(noError);
  page.notice = "You are signed out.";
  render();
});
ui.configureSave.addEventListener("click", onConfigureSave);
ui.configureCancel.addEventListener("click", () => {
  page.configuring = false;
  render();
});
if (broker) {
  broker.addEventListener("statechange", onConnection);
  broker.addEventListener("signedin", onGrant);
  broker.addEventListener("error", onStrayError);
  // Back online, or back from the browser's cache: no need to wait out the back-off.
  window.addEventListener("online", () => page.error.code !== "replaced" && broker.reconnect());
  window.addEventListener("pageshow", (e) => e.persisted && page.error.code !== "replaced" && broker.reconnect());
}

// For the broker's browser tests (and the curious): what the page is showing.
window.oauthBrokerPage = Object.freeze({
  client: broker,
  state: () => ({
    state: page.view,
    error: page.error.code,
    connected: page.connected,
    session: broker ? broker.session : null,
    provider: selectedProvider() || null,
    signedIn: Boolean(page.grant),
    tokenExpiresAt: page.grant ? page.grant.expiresAt : 0,
    mode: page.mode,
    dashboardProvider: page.dashboardProvider,
  }),
});

render();
startTableau();
