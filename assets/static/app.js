// The extension page of oauth-broker: signs the dashboard's user in to an OAuth provider through
// the broker's WebSocket, then calls the provider's API with the token.
//
// Contract: shared/CONTRACT.md ("The WebSocket"). Everything here runs under a strict CSP
// (no inline script or style, no eval), so the page only toggles `hidden`, text and attributes.
// Provider data is written with textContent only, never as HTML.
"use strict";

(function () {
  const REFRESH_KEY_PREFIX = "oauth-broker.refresh.";
  const RESUME_KEY = "oauth-broker.resume";
  // Browsers only let window.open through shortly after a click; past this we show the link only.
  const POPUP_AFTER_CLICK_MS = 1000;
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const HELLO_TIMEOUT_MS = 10000;
  const ANSWER_TIMEOUT_MS = 20000;
  const REFRESH_RETRY_MS = 30000;
  const TABLEAU_INIT_TIMEOUT_MS = 8000;
  const MAX_TIMER_MS = 2147483647; // setTimeout fires at once beyond this
  const STATES = ["connecting", "ready", "waiting", "code", "signedin", "error"];

  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"),
    error: $("error"),
    panelReady: $("panel-ready"),
    providerRow: $("provider-row"),
    provider: $("provider"),
    signin: $("signin"),
    panelWaiting: $("panel-waiting"),
    signinLink: $("signin-link"),
    panelCode: $("panel-code"),
    code: $("code"),
    codeSubmit: $("code-submit"),
    panelCancel: $("panel-cancel"),
    cancel: $("cancel"),
    panelSignedin: $("panel-signedin"),
    result: $("result"),
    signout: $("signout"),
    mode: $("mode"),
    panelConfigure: $("panel-configure"),
    configureProvider: $("configure-provider"),
    configureSave: $("configure-save"),
    configureCancel: $("configure-cancel"),
    configureError: $("configure-error"),
  };

  // ---- storage: localStorage / sessionStorage may be blocked in a third-party iframe ----------

  function storageArea(name) {
    const memory = new Map();
    const area = () => {
      try {
        return window[name] || null;
      } catch (e) {
        return null;
      }
    };
    return {
      get(key) {
        let value = null;
        try {
          const a = area();
          if (a) value = a.getItem(key);
        } catch (e) {
          value = null;
        }
        if (value !== null) return value;
        return memory.has(key) ? memory.get(key) : null;
      },
      set(key, value) {
        memory.set(key, value);
        try {
          const a = area();
          if (a) a.setItem(key, value);
        } catch (e) {
          /* memory copy is enough for this page's life */
        }
      },
      remove(key) {
        memory.delete(key);
        try {
          const a = area();
          if (a) a.removeItem(key);
        } catch (e) {
          /* nothing stored there */
        }
      },
    };
  }

  const durable = storageArea("localStorage");
  const perTab = storageArea("sessionStorage");

  const loadHandle = (provider) => (provider ? durable.get(REFRESH_KEY_PREFIX + provider) : null);
  const saveHandle = (provider, handle) => durable.set(REFRESH_KEY_PREFIX + provider, handle);
  const forgetHandle = (provider) => provider && durable.remove(REFRESH_KEY_PREFIX + provider);

  // ---- configuration rendered into the page by the broker ---------------------------------------

  function readConfig() {
    let raw = {};
    try {
      const node = $("broker-config");
      raw = JSON.parse(node ? node.textContent : "{}") || {};
    } catch (e) {
      raw = {}; // page opened without the broker's template: fall back to defaults
    }
    const providers = (Array.isArray(raw.providers) ? raw.providers : [])
      .filter((p) => p && typeof p.name === "string" && p.name)
      .map((p) => ({
        name: p.name,
        label: typeof p.label === "string" && p.label ? p.label : p.name,
        apiUrl: typeof p.apiUrl === "string" ? p.apiUrl.replace(/\/+$/, "") : "",
      }));
    const tableauApiUrl = typeof raw.tableauApiUrl === "string" ? raw.tableauApiUrl : "";
    return { wsUrl: socketUrl(raw.wsUrl), confirmCode: raw.confirmCode !== false, providers, tableauApiUrl };
  }

  function socketUrl(value) {
    try {
      const url = new URL(typeof value === "string" && value ? value : "ws", window.location.href);
      if (url.protocol === "http:") url.protocol = "ws:";
      else if (url.protocol === "https:") url.protocol = "wss:";
      if (url.protocol !== "ws:" && url.protocol !== "wss:") return null;
      return url.toString();
    } catch (e) {
      return null;
    }
  }

  const config = readConfig();

  // ---- the page's whole state -------------------------------------------------------------------

  const app = {
    state: "connecting",
    error: { code: "", message: "" },
    notice: "", // a one-off line for the ready state ("You are signed out.")
    mode: "unknown",

    socket: null,
    connected: false, // true once the current socket said hello
    session: null,
    resume: perTab.get(RESUME_KEY),
    failures: 0, // consecutive failed connections, for the backoff
    reconnectTimer: null,
    helloTimer: null,
    firstHelloSeen: false,
    socketResumed: false, // the current socket was opened with ?resume=
    // After a hello on a socket opened with ?resume=, the broker's next frame may be an `expired`
    // error saying the old session could not be resumed. That one is about the connection, not a
    // sign-in: the page handles it itself instead of showing "The sign-in took too long".
    resumeVerdictPending: false,

    // one sign-in attempt
    attemptProvider: null,
    awaitingLink: false,
    clickedAt: 0, // when the user last clicked something that should open the sign-in window
    link: null, // { url, expiresAt, expired, used }
    linkTimer: null,
    confirmPending: false,
    confirmTimer: null,
    answerTimer: null,

    // the result
    token: null, // { provider, accessToken, tokenType, scope, expiresIn, expiresAt } — memory only
    refreshInFlight: null, // { provider, reason, discard }
    refreshWanted: null, // a refresh to send once connected
    refreshTimer: null,
    refreshAnswerTimer: null,
    expiryTimer: null,
    apiRetried: false,
    apiSeq: 0,
    dashboardProvider: null, // chosen by the dashboard's author through Configure
  };

  function providerInfo(name) {
    return config.providers.find((p) => p.name === name) || null;
  }
  function defaultProvider() {
    return config.providers.length ? config.providers[0].name : null;
  }
  function selectedProvider() {
    // A dashboard author's choice (Configure, saved in the extension's settings) wins.
    if (app.dashboardProvider && providerInfo(app.dashboardProvider)) return app.dashboardProvider;
    if (ui.provider && ui.provider.value && providerInfo(ui.provider.value)) return ui.provider.value;
    return defaultProvider();
  }
  function labelOf(name) {
    const p = providerInfo(name);
    return p ? p.label : name || "the service";
  }

  function later(fn, ms) {
    return setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS));
  }
  function stop(timerName) {
    if (app[timerName] !== null) clearTimeout(app[timerName]);
    app[timerName] = null;
  }

  // ---- what people read ---------------------------------------------------------------------------

  function messageFor(code, serverMessage, provider) {
    const service = labelOf(provider || app.attemptProvider || selectedProvider());
    switch (code) {
      case "access_denied":
        return "Access was declined in the sign-in window. Press Sign in to try again.";
      case "expired":
        return "The sign-in took too long and expired. Press Sign in to start again.";
      case "provider_error":
        return service + " had a problem finishing the sign-in. Wait a moment, then press Sign in to try again.";
      case "bad_code":
        return "That code doesn't match. Check the code in the sign-in window and type it again.";
      case "too_many_attempts":
        return "Too many wrong codes, so this sign-in was stopped for safety. Press Sign in to start again.";
      case "rate_limited":
        return "Too many attempts in a short time. Wait a minute, then try again.";
      case "reauth_required":
        return "Please sign in again: your saved sign-in is no longer valid.";
      case "unavailable":
        return "The sign-in service is busy or restarting. Try again in a minute.";
      case "unknown_provider":
        return "The sign-in service doesn't offer " + service + ". Ask the dashboard's author to check the extension's settings.";
      case "invalid_message":
        return "The page and the sign-in service didn't understand each other. Reload the dashboard; if it keeps happening, tell your administrator.";
      default:
        return typeof serverMessage === "string" && serverMessage
          ? serverMessage
          : "Something went wrong. Press Sign in to try again.";
    }
  }

  function statusText() {
    const service = labelOf(app.attemptProvider || selectedProvider());
    const offline = !app.connected && app.state !== "connecting";
    const suffix = offline ? " Connection lost; reconnecting…" : "";
    switch (app.state) {
      case "connecting":
        return app.failures > 0
          ? "Can't reach the sign-in service yet. Trying again…"
          : "Connecting to the sign-in service…";
      case "ready":
        if (app.refreshInFlight && !app.refreshInFlight.discard) return "Continuing your previous sign-in…";
        return (app.notice || "Not signed in.") + " Press Sign in to continue.";
      case "waiting":
        if (!app.link) return "Getting a sign-in link…" + suffix;
        if (app.link.expired || app.link.used) return "Waiting for you to finish signing in to " + service + " in the other window." + suffix;
        return "Waiting for you to sign in to " + service + " in the other window." + suffix;
      case "code":
        if (app.confirmPending) return "Checking the code…" + suffix;
        return "Almost done: one last step." + suffix;
      case "signedin": {
        const who = labelOf(app.token && app.token.provider);
        if (!app.token) return "Renewing your sign-in to " + who + "…" + suffix;
        return "Signed in to " + who + "." + suffix;
      }
      case "error":
        if (app.error.code === "replaced") return "Open in another window.";
        return (app.connected ? "Not signed in." : "Not connected to the sign-in service.") + suffix;
      default:
        return "";
    }
  }

  // ---- rendering: the only place that touches the DOM's state ------------------------------------

  function setText(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }

  function render() {
    const s = app.state;
    document.body.dataset.state = s;
    document.body.dataset.error = app.error.code;
    setText(ui.error, app.error.message);
    setText(ui.status, statusText());

    ui.panelReady.hidden = !(s === "connecting" || s === "ready" || s === "error");
    ui.signin.disabled = !app.connected || s === "connecting";
    const canChoose = s === "ready" || s === "error";
    ui.providerRow.hidden = config.providers.length < 2 || Boolean(app.dashboardProvider && providerInfo(app.dashboardProvider));
    ui.provider.disabled = !canChoose;
    setText(ui.signin, selectedProvider() ? "Sign in to " + labelOf(selectedProvider()) : "Sign in");

    ui.panelWaiting.hidden = s !== "waiting";
    renderLink();

    ui.panelCode.hidden = s !== "code";
    ui.codeSubmit.disabled = !app.connected || app.confirmPending;
    ui.panelCancel.hidden = !(s === "waiting" || s === "code");
    ui.panelSignedin.hidden = s !== "signedin";
  }

  function renderLink() {
    const a = ui.signinLink;
    if (app.link && app.link.url) {
      if (a.getAttribute("href") !== app.link.url) a.setAttribute("href", app.link.url);
      a.removeAttribute("aria-disabled");
      const stale = app.link.expired || app.link.used;
      setText(a, stale ? "Get a new sign-in page" : "Open the sign-in page");
    } else {
      a.removeAttribute("href");
      a.setAttribute("aria-disabled", "true");
      setText(a, "Getting the sign-in page…");
    }
  }

  function setState(state) {
    if (STATES.indexOf(state) < 0) throw new Error("unknown state " + state);
    if (state !== app.state) app.notice = "";
    app.state = state;
  }
  function setError(code, message) {
    app.error = { code: code, message: message };
  }
  function clearError() {
    app.error = { code: "", message: "" };
  }

  // Keyboard users: when the focused control disappears, put focus on the next useful one.
  function moveFocus(target) {
    const active = document.activeElement;
    const lost = !active || active === document.body || active.closest("[hidden]") !== null;
    if (lost && target && typeof target.focus === "function") {
      try {
        target.focus();
      } catch (e) {
        /* not focusable right now */
      }
    }
  }

  // ---- the WebSocket --------------------------------------------------------------------------------

  function connect() {
    stop("reconnectTimer");
    if (app.socket) return;
    if (!config.wsUrl || typeof window.WebSocket !== "function") {
      setState("error");
      setError("no_socket", "This page can't reach the sign-in service from here (no WebSocket address). Open it through the broker's address.");
      render();
      return;
    }
    let url = config.wsUrl;
    app.socketResumed = Boolean(app.resume);
    if (app.resume) url += (url.indexOf("?") < 0 ? "?" : "&") + "resume=" + encodeURIComponent(app.resume);
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (e) {
      // A URL the page's security policy refuses can throw here: say so, and keep trying.
      setError("unreachable", "Can't open a connection to the sign-in service from this page; trying again…");
      if (app.state === "ready") setState("connecting");
      render();
      scheduleReconnect(nextBackoff());
      return;
    }
    app.socket = socket;
    app.connected = false;
    stop("helloTimer");
    app.helloTimer = later(() => {
      // Connected but silent (or stuck connecting): try again rather than wait forever.
      if (app.socket === socket && !app.connected) socket.close();
    }, HELLO_TIMEOUT_MS);
    socket.addEventListener("message", (event) => {
      if (app.socket === socket) handleFrame(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (app.socket === socket) onSocketClosed(event.code);
    });
    socket.addEventListener("error", () => {
      // Usually a close event follows, but not for a socket the page's CSP refused (Chromium
      // fires only this): treat it as the close, and ignore a close that may still come.
      if (app.socket !== socket) return;
      try {
        socket.close();
      } catch (e) {
        /* already closing */
      }
      onSocketClosed(1006);
    });
  }

  function nextBackoff() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, app.failures));
    app.failures += 1;
    return base / 2 + (Math.random() * base) / 2;
  }

  function scheduleReconnect(delay) {
    stop("reconnectTimer");
    app.reconnectTimer = later(connect, delay);
  }

  function onSocketClosed(code) {
    stop("helloTimer");
    app.socket = null;
    const wasConnected = app.connected;
    app.connected = false;
    let delay;
    if (code === 1001) {
      // The broker is restarting or draining: come back promptly, spread out a little.
      app.failures = 0;
      delay = Math.random() * 500;
    } else if (code === 1008) {
      // The broker ends a connection with 1008 when the same session was resumed elsewhere:
      // this dashboard is open in another window, which has the sign-in now. Reconnecting
      // would take it back, and the two would take turns for ever.
      endAttempt();
      setError("replaced", "This dashboard was opened in another window or tab, which now has the sign-in. Reload this page to use it here.");
      setState("error");
      render();
      return;
    } else {
      if (code === 1009) {
        setError("message_too_big", "The last message was too large for the sign-in service. Reconnecting…");
      }
      if (!wasConnected && app.failures >= 3 && app.state === "connecting") {
        setError("unreachable", "Can't reach the sign-in service. Check your network; the page keeps trying on its own.");
      }
      delay = nextBackoff();
    }
    if (app.state === "ready") setState("connecting");
    render();
    scheduleReconnect(delay);
  }

  function send(message) {
    const socket = app.socket;
    if (!socket || !app.connected || socket.readyState !== 1) return false;
    try {
      socket.send(JSON.stringify(message));
      return true;
    } catch (e) {
      return false;
    }
  }

  function handleFrame(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (!message || typeof message !== "object" || typeof message.type !== "string") return;
    if (message.type !== "hello" && app.resumeVerdictPending) {
      app.resumeVerdictPending = false;
      if (message.type === "error" && message.code === "expired" && !message.provider) return onResumeRefused();
    }
    switch (message.type) {
      case "hello":
        return onHello(message);
      case "signin":
        return onSigninLink(message);
      case "confirm":
        return onConfirmRequested(message);
      case "signedin":
        return onSignedIn(message);
      case "error":
        return onServerError(message);
      default:
        return; // newer server, older page: ignore what we don't know
    }
  }

  const CONNECTION_ERRORS = ["connection_refused", "message_too_big", "unreachable", "no_socket"];

  function onHello(message) {
    stop("helloTimer");
    const previous = app.session;
    app.session = typeof message.session === "string" ? message.session : null;
    if (typeof message.resume === "string" && message.resume) {
      app.resume = message.resume;
      perTab.set(RESUME_KEY, message.resume);
    }
    app.connected = true;
    app.failures = 0;
    app.resumeVerdictPending = app.socketResumed;
    learnProviders(message.providers);
    if (CONNECTION_ERRORS.indexOf(app.error.code) >= 0) clearError();

    if (previous !== null && previous !== app.session) onSessionLost();

    if (app.state === "connecting") setState("ready");
    if (app.state === "error" && !app.error.code) setState("ready");

    if (app.refreshWanted) {
      const wanted = app.refreshWanted;
      app.refreshWanted = null;
      requestRefresh(wanted.provider, wanted.reason);
    }
    if (!app.firstHelloSeen) {
      app.firstHelloSeen = true;
      // A handle from an earlier visit: renew in the background instead of asking to sign in.
      const provider = defaultProvider();
      if (!app.token && app.state === "ready" && loadHandle(provider)) requestRefresh(provider, "resume");
    }
    render();
  }

  // The broker's `expired` right after hello: our resume secret was unknown (the broker restarted,
  // or the page was away too long). A sign-in in progress was already reset by onSessionLost
  // (the session changed); a page that had nothing going on has nothing to tell the user, and a
  // signed-in page keeps its token (a refresh in flight was queued again).
  function onResumeRefused() {
    if (app.state === "waiting" || app.state === "code") {
      // Only on a first connection, where no earlier session is known to compare with.
      onSessionLost();
      render();
    }
  }

  // The broker did not know our resume secret any more: whatever it owed the old session is gone.
  function onSessionLost() {
    if (app.state === "waiting" || app.state === "code") {
      endAttempt();
      setState("ready");
      setError("session_lost", "The connection to the sign-in service was reset, so this sign-in can't finish. Please sign in again.");
    }
    if (app.refreshInFlight) {
      const lost = app.refreshInFlight;
      app.refreshInFlight = null;
      stop("refreshAnswerTimer");
      if (!lost.discard) app.refreshWanted = { provider: lost.provider, reason: lost.reason };
    }
  }

  function learnProviders(names) {
    if (!Array.isArray(names) || config.providers.length) return;
    names
      .filter((n) => typeof n === "string" && n)
      .forEach((n) => config.providers.push({ name: n, label: n, apiUrl: "" }));
    fillProviderChoice();
  }

  function fillProviderChoice() {
    const current = ui.provider.value;
    while (ui.provider.firstChild) ui.provider.removeChild(ui.provider.firstChild);
    config.providers.forEach((p) => {
      const option = document.createElement("option");
      option.value = p.name;
      option.textContent = p.label;
      ui.provider.appendChild(option);
    });
    if (current && providerInfo(current)) ui.provider.value = current;
  }

  // ---- one sign-in: begin → signin (link) → [confirm → code] → signedin -----------------------

  function onSigninClick() {
    if (!app.connected) return;
    clearError();
    endAttempt();
    app.attemptProvider = selectedProvider();
    app.clickedAt = Date.now();
    askForLink();
    setState("waiting");
    render();
    moveFocus(ui.cancel);
  }

  function askForLink() {
    app.link = null;
    app.awaitingLink = true;
    stop("linkTimer");
    const begin = { type: "begin" };
    if (app.attemptProvider) begin.provider = app.attemptProvider;
    send(begin);
    armAnswerTimer(() => {
      if (app.state === "waiting" && app.awaitingLink) {
        endAttempt();
        setState("error");
        setError("no_answer", "The sign-in service didn't answer. Press Sign in to try again.");
        render();
      }
    });
  }

  function armAnswerTimer(onTimeout) {
    stop("answerTimer");
    app.answerTimer = later(() => {
      app.answerTimer = null;
      onTimeout();
    }, ANSWER_TIMEOUT_MS);
  }

  function safeLink(value) {
    try {
      const url = new URL(value, window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.toString() : null;
    } catch (e) {
      return null;
    }
  }

  function onSigninLink(message) {
    // Only the answer to our own begin; a link nobody asked for (cancelled) is dropped.
    if (app.state !== "waiting" || !app.awaitingLink) return;
    const url = safeLink(message.url);
    if (!url) return;
    app.awaitingLink = false;
    stop("answerTimer");
    const ttl = Number(message.expires_in) > 0 ? Number(message.expires_in) * 1000 : 120000;
    app.link = { url: url, expiresAt: Date.now() + ttl, expired: false, used: false };
    app.linkTimer = later(() => {
      if (app.link) app.link.expired = true;
      render();
    }, ttl);
    if (Date.now() - app.clickedAt <= POPUP_AFTER_CLICK_MS) {
      app.clickedAt = 0;
      try {
        // Without "noopener", so that window.open says whether a window opened; the opener
        // is cut at once, before the sign-in page can load.
        const opened = window.open(url, "_blank");
        if (opened) {
          try {
            opened.opener = null;
          } catch (e) {
            /* already elsewhere */
          }
          // That window spends the ticket even if it is closed at once: the link below
          // must mint a fresh one.
          app.link.used = true;
        }
      } catch (e) {
        /* blocked: the link below is the way */
      }
    }
    render();
    moveFocus(ui.signinLink);
  }

  function onLinkClick(event) {
    if (!app.link || !app.link.url) {
      event.preventDefault();
      return;
    }
    if (app.link.expired || app.link.used || Date.now() >= app.link.expiresAt) {
      // Tickets are single-use and short-lived: this click asks for a fresh one instead.
      event.preventDefault();
      if (!app.connected) return;
      app.clickedAt = Date.now();
      askForLink();
      render();
      return;
    }
    app.link.used = true; // the browser follows the link itself
    later(render, 0);
  }

  function onConfirmRequested(message) {
    // The user may have pressed Cancel and finished in the other window anyway: still take it.
    endAttempt();
    app.attemptProvider = typeof message.provider === "string" ? message.provider : app.attemptProvider;
    setState("code");
    clearError();
    ui.code.value = "";
    const ttl = Number(message.expires_in) > 0 ? Number(message.expires_in) * 1000 : 300000;
    app.confirmTimer = later(() => {
      if (app.state !== "code") return;
      endAttempt();
      setState("error");
      setError("expired", "The code expired before it was confirmed. Press Sign in to start again.");
      render();
    }, ttl);
    render();
    ui.code.focus();
  }

  function normaliseCode(text) {
    return String(text || "")
      .toUpperCase()
      .replace(/[\s\-\u2010-\u2015]+/g, "");
  }

  function onCodeSubmit(event) {
    event.preventDefault();
    if (app.state !== "code" || app.confirmPending) return;
    const code = normaliseCode(ui.code.value);
    if (!code) {
      setError("code_missing", "Type the code shown in the sign-in window first.");
    } else if (!/^[A-Z0-9]+$/.test(code)) {
      setError("code_invalid", "The code has only letters and digits. Check what you typed.");
    } else if (send({ type: "confirm", code: code })) {
      clearError();
      app.confirmPending = true;
      armAnswerTimer(() => {
        if (app.state !== "code" || !app.confirmPending) return;
        app.confirmPending = false;
        setError("no_answer", "No answer from the sign-in service yet. Press Confirm again.");
        render();
      });
    } else {
      setError("not_connected", "Not connected right now. Wait a moment, then press Confirm again.");
    }
    render();
    if (app.error.code) ui.code.focus();
  }

  function onCancel() {
    endAttempt();
    clearError();
    setState("ready");
    render();
    moveFocus(ui.signin);
    ui.signin.focus();
  }

  function endAttempt() {
    app.awaitingLink = false;
    app.link = null;
    app.confirmPending = false;
    stop("linkTimer");
    stop("confirmTimer");
    stop("answerTimer");
  }

  // ---- tokens: signedin, refresh, expiry, sign out -------------------------------------------

  function onSignedIn(message) {
    if (typeof message.access_token !== "string" || !message.access_token) return;
    const inflight = app.refreshInFlight;
    app.refreshInFlight = null;
    stop("refreshAnswerTimer");
    const provider =
      (typeof message.provider === "string" && message.provider) ||
      (inflight && inflight.provider) ||
      app.attemptProvider ||
      defaultProvider();
    if (inflight && inflight.discard) return; // answer to a refresh the user signed out of
    const expiresIn = Number(message.expires_in) > 0 ? Number(message.expires_in) : 0;
    app.token = {
      provider: provider,
      accessToken: message.access_token,
      tokenType: typeof message.token_type === "string" && message.token_type ? message.token_type : "Bearer",
      scope: typeof message.scope === "string" ? message.scope : "",
      expiresIn: expiresIn,
      expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : 0,
    };
    // OpenID Connect providers: the validated ID token and who signed in.
    if (typeof message.id_token === "string" && message.claims && typeof message.claims === "object") {
      app.token.idToken = message.id_token;
      app.token.claims = message.claims;
    }
    // A refresh answer without a handle means the provider did not rotate it: keep the old one.
    if (typeof message.refresh === "string" && message.refresh) saveHandle(provider, message.refresh);
    if (!inflight) app.apiRetried = false;
    endAttempt();
    app.attemptProvider = provider;
    if (app.error.code !== "api_failed" && app.error.code !== "api_unauthorized") clearError();
    setState("signedin");
    scheduleRefresh();
    scheduleExpiry();
    render();
    moveFocus(ui.signout);
    loadArtists();
  }

  function scheduleRefresh() {
    stop("refreshTimer");
    const token = app.token;
    if (!token || !token.expiresIn || !loadHandle(token.provider)) return;
    const lead = Math.max(30, token.expiresIn * 0.1);
    const delay = Math.max(1, token.expiresIn - lead) * 1000;
    app.refreshTimer = later(() => {
      app.refreshTimer = null;
      requestRefresh(token.provider, "scheduled");
    }, delay);
  }

  function scheduleExpiry() {
    stop("expiryTimer");
    const token = app.token;
    if (!token || !token.expiresAt) return;
    app.expiryTimer = later(() => {
      app.expiryTimer = null;
      if (app.token !== token) return;
      app.token = null;
      if (app.state !== "signedin") return;
      if (app.refreshInFlight || requestRefresh(token.provider, "expired")) {
        render(); // "Renewing your sign-in…"
        return;
      }
      clearResult();
      setState("ready");
      setError("token_expired", "Your sign-in has expired. Please sign in again.");
      render();
    }, token.expiresAt - Date.now());
  }

  // Returns true when a refresh is on its way (now or once reconnected).
  function requestRefresh(provider, reason) {
    const handle = loadHandle(provider);
    if (!handle) return false;
    if (app.refreshInFlight) return true;
    if (!app.connected) {
      app.refreshWanted = { provider: provider, reason: reason };
      return true;
    }
    if (!send({ type: "refresh", refresh: handle })) {
      app.refreshWanted = { provider: provider, reason: reason };
      return true;
    }
    app.refreshInFlight = { provider: provider, reason: reason, discard: false };
    stop("refreshAnswerTimer");
    app.refreshAnswerTimer = later(() => {
      app.refreshAnswerTimer = null;
      if (!app.refreshInFlight) return;
      refreshFailed("no_answer", null);
    }, ANSWER_TIMEOUT_MS);
    render();
    return true;
  }

  function refreshFailed(code, message) {
    const inflight = app.refreshInFlight;
    app.refreshInFlight = null;
    stop("refreshAnswerTimer");
    if (!inflight || inflight.discard) {
      render();
      return;
    }
    // A handle the broker cannot read is no use to keep.
    if (code === "invalid_message" || code === "unknown_provider") forgetHandle(inflight.provider);
    const why = code === "no_answer" ? "the sign-in service didn't answer." : messageFor(code, message && message.message, inflight.provider);
    if (app.state === "signedin" && app.token) {
      setError(code, "Couldn't renew your sign-in just now: " + why + " The page will try again shortly.");
      stop("refreshTimer");
      if (loadHandle(inflight.provider)) {
        app.refreshTimer = later(() => {
          app.refreshTimer = null;
          requestRefresh(inflight.provider, "retry");
        }, REFRESH_RETRY_MS);
      }
    } else if (app.state === "signedin" || app.state === "ready" || app.state === "error") {
      clearResult();
      app.token = null;
      setState("ready");
      setError(code, "Couldn't continue your previous sign-in: " + why);
    }
    render();
  }

  function onReauthRequired(message) {
    const inflight = app.refreshInFlight;
    app.refreshInFlight = null;
    stop("refreshAnswerTimer");
    stop("refreshTimer");
    const provider =
      (inflight && inflight.provider) ||
      (typeof message.provider === "string" && message.provider) ||
      (app.token && app.token.provider) ||
      defaultProvider();
    forgetHandle(provider);
    if (inflight && inflight.discard) return render();
    // Already signing in again: no need to interrupt.
    if (app.state === "waiting" || app.state === "code") return render();
    app.token = null;
    app.apiSeq += 1;
    clearResult();
    setState("ready");
    setError("reauth_required", messageFor("reauth_required"));
    render();
    moveFocus(ui.signin);
  }

  function onSignOut() {
    const provider = (app.token && app.token.provider) || app.attemptProvider || defaultProvider();
    forgetHandle(provider);
    app.token = null;
    app.apiSeq += 1; // drop the answer of any API call still running
    if (app.refreshInFlight) app.refreshInFlight.discard = true;
    app.refreshWanted = null;
    stop("refreshTimer");
    stop("expiryTimer");
    clearResult();
    clearError();
    setState("ready");
    app.notice = "You are signed out.";
    render();
    moveFocus(ui.signin);
    ui.signin.focus();
  }

  // ---- errors from the broker ---------------------------------------------------------------------

  function onServerError(message) {
    const code = typeof message.code === "string" && message.code ? message.code : "unknown";
    if (code === "reauth_required") return onReauthRequired(message);
    if ((code === "bad_code" || code === "too_many_attempts") && app.state === "code") {
      stop("answerTimer");
      app.confirmPending = false;
      if (code === "bad_code") {
        setError(code, messageFor(code));
        render();
        ui.code.focus();
        if (typeof ui.code.select === "function") ui.code.select();
        return;
      }
    }
    const signingIn = app.state === "waiting" || app.state === "code";
    if (app.refreshInFlight && !signingIn) return refreshFailed(code, message);
    if (signingIn) {
      endAttempt();
      setState("error");
      setError(code, messageFor(code, message.message, message.provider));
      render();
      moveFocus(ui.signin);
      return;
    }
    if (app.state === "signedin") {
      setError(code, messageFor(code, message.message, message.provider));
    } else {
      setState(app.connected ? "error" : app.state);
      setError(code, messageFor(code, message.message, message.provider));
    }
    render();
  }

  // ---- the provider's API ------------------------------------------------------------------------

  function clearResult() {
    while (ui.result.firstChild) ui.result.removeChild(ui.result.firstChild);
  }

  function showResultLine(text) {
    clearResult();
    const p = document.createElement("p");
    p.textContent = text;
    ui.result.appendChild(p);
  }

  function showArtists(names) {
    clearResult();
    if (!names.length) {
      const p = document.createElement("p");
      p.textContent = "No top artists yet.";
      ui.result.appendChild(p);
      return;
    }
    const favourite = document.createElement("p");
    favourite.className = "favourite";
    favourite.appendChild(document.createTextNode("Your favourite artist: "));
    const strong = document.createElement("strong");
    strong.textContent = names[0];
    favourite.appendChild(strong);
    ui.result.appendChild(favourite);
    if (names.length > 1) {
      const list = document.createElement("ol");
      list.className = "artists";
      list.setAttribute("aria-label", "Your top artists");
      names.forEach((name) => {
        const item = document.createElement("li");
        item.textContent = name;
        list.appendChild(item);
      });
      ui.result.appendChild(list);
    }
  }

  function apiFailed(code, text) {
    showResultLine("Couldn't load your artists.");
    setError(code, text);
    render();
  }

  async function loadArtists() {
    const token = app.token;
    if (!token) return;
    const info = providerInfo(token.provider);
    const service = labelOf(token.provider);
    if (!info || !info.apiUrl) {
      showResultLine("Signed in. (This page has no API address for " + service + ".)");
      return;
    }
    const seq = ++app.apiSeq;
    showResultLine("Loading your favourite artists…");
    let response;
    try {
      response = await fetch(info.apiUrl + "/me/top/artists?limit=5", {
        method: "GET",
        headers: { Authorization: "Bearer " + token.accessToken, Accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch (e) {
      if (seq === app.apiSeq) apiFailed("api_failed", "Couldn't reach " + service + " to load your artists. Check your connection, then sign out and in again if it keeps failing.");
      return;
    }
    if (seq !== app.apiSeq) return;
    if (response.status === 401) {
      // The token was revoked or expired early: renew once, the next signedin calls us again.
      if (!app.apiRetried && loadHandle(token.provider)) {
        app.apiRetried = true;
        showResultLine("Renewing your sign-in…");
        if (!requestRefresh(token.provider, "unauthorized")) apiFailed("api_unauthorized", service + " didn't accept the sign-in. Sign out and sign in again.");
        return;
      }
      apiFailed("api_unauthorized", service + " didn't accept the sign-in. Sign out and sign in again.");
      return;
    }
    if (!response.ok) {
      const busy = response.status === 429 ? " It is busy; wait a minute." : "";
      apiFailed("api_failed", service + " answered with an error (HTTP " + response.status + ")." + busy + " Try again later.");
      return;
    }
    let body;
    try {
      body = await response.json();
    } catch (e) {
      if (seq === app.apiSeq) apiFailed("api_failed", service + " sent an answer this page can't read.");
      return;
    }
    if (seq !== app.apiSeq) return;
    app.apiRetried = false;
    const items = body && Array.isArray(body.items) ? body.items : [];
    const names = items
      .map((item) => (item && typeof item.name === "string" ? item.name.trim() : ""))
      .filter((name) => name)
      .slice(0, 5);
    if (app.error.code === "api_failed" || app.error.code === "api_unauthorized") clearError();
    showArtists(names);
    render();
  }

  // ---- Tableau ------------------------------------------------------------------------------------

  function setMode(mode, detail) {
    app.mode = mode;
    document.body.dataset.mode = mode;
    ui.mode.dataset.mode = mode;
    let text;
    if (mode === "tableau") text = "Running in Tableau" + (detail ? " · " + detail : "");
    else if (mode === "nolibrary")
      // Not "outside Tableau": without the library the page cannot tell.
      text = "Tableau's Extensions API library did not load (" + (config.tableauApiUrl || "not configured") + "), so this page cannot talk to Tableau";
    else text = "Running outside Tableau";
    setText(ui.mode, text);
  }

  // ---- Configure (a dashboard author's context-menu item): which provider this dashboard uses ----

  function onConfigure() {
    const select = ui.configureProvider;
    while (select.firstChild) select.removeChild(select.firstChild);
    config.providers.forEach((p) => {
      const option = document.createElement("option");
      option.value = p.name;
      option.textContent = p.label;
      select.appendChild(option);
    });
    select.value = selectedProvider() || "";
    setText(ui.configureError, "");
    ui.panelConfigure.hidden = false;
    moveFocus(select);
  }

  function onConfigureSave() {
    const name = ui.configureProvider.value;
    let settings = null;
    try {
      settings = window.tableau.extensions.settings;
      // The provider's name only: workbook settings are readable by every viewer.
      settings.set("provider", name);
    } catch (e) {
      setText(ui.configureError, "Tableau did not take the setting: " + (e && e.message ? e.message : e));
      return;
    }
    ui.configureSave.disabled = true;
    Promise.resolve(settings.saveAsync()).then(
      () => {
        ui.configureSave.disabled = false;
        app.dashboardProvider = name;
        ui.panelConfigure.hidden = true;
        render();
      },
      (e) => {
        ui.configureSave.disabled = false;
        setText(ui.configureError, "Tableau could not save the setting: " + (e && e.message ? e.message : e));
      },
    );
  }

  function readDashboardProvider(extensions) {
    try {
      const name = extensions.settings.get("provider");
      if (name && providerInfo(name)) app.dashboardProvider = name;
    } catch (e) {
      app.dashboardProvider = null;
    }
    render();
  }

  function startTableau() {
    let extensions = null;
    try {
      extensions = window.tableau && window.tableau.extensions;
    } catch (e) {
      extensions = null;
    }
    if (!extensions || typeof extensions.initializeAsync !== "function") {
      // The library's script element comes before this one: no `tableau` means it failed.
      setMode("nolibrary");
      return;
    }
    setText(ui.mode, "Connecting to Tableau…");
    let settled = false;
    const giveUp = later(() => {
      if (!settled) setMode("standalone");
    }, TABLEAU_INIT_TIMEOUT_MS);
    const standalone = () => {
      if (settled) return;
      settled = true;
      clearTimeout(giveUp);
      setMode("standalone");
    };
    let pending;
    try {
      pending = extensions.initializeAsync({ configure: onConfigure });
    } catch (e) {
      standalone();
      return;
    }
    Promise.resolve(pending).then(() => {
      settled = true;
      clearTimeout(giveUp);
      let dashboard = "";
      try {
        dashboard = extensions.dashboardContent.dashboard.name || "";
      } catch (e) {
        dashboard = "";
      }
      readDashboardProvider(extensions);
      setMode("tableau", dashboard);
    }, standalone);
  }

  // ---- start -------------------------------------------------------------------------------------

  function start() {
    fillProviderChoice();
    ui.signin.addEventListener("click", onSigninClick);
    ui.signinLink.addEventListener("click", onLinkClick);
    ui.panelCode.addEventListener("submit", onCodeSubmit);
    ui.cancel.addEventListener("click", onCancel);
    ui.signout.addEventListener("click", onSignOut);
    ui.configureSave.addEventListener("click", onConfigureSave);
    ui.configureCancel.addEventListener("click", () => {
      ui.panelConfigure.hidden = true;
    });
    ui.provider.addEventListener("change", () => {
      app.notice = "";
      render();
    });
    window.addEventListener("online", () => {
      if (!app.socket) {
        app.failures = 0;
        connect();
      }
    });
    window.addEventListener("pageshow", (event) => {
      if (event.persisted && !app.socket) connect();
    });

    window.oauthBrokerPage = Object.freeze({
      state: () => ({
        state: app.state,
        error: app.error.code,
        connected: app.connected,
        session: app.session,
        provider: app.token ? app.token.provider : app.attemptProvider || selectedProvider(),
        signedIn: Boolean(app.token),
        tokenExpiresAt: app.token ? app.token.expiresAt : 0,
        refreshing: Boolean(app.refreshInFlight),
        mode: app.mode,
        dashboardProvider: app.dashboardProvider || null,
      }),
    });

    render();
    startTableau();
    connect();
  }

  start();
})();
