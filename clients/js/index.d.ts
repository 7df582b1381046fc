// Types of oauth-broker-client.js. The protocol underneath: docs/PROTOCOL.md.

/** A contract error code, or one of the client's own. */
export type BrokerErrorCode =
  | "invalid_message"
  | "unknown_provider"
  | "access_denied"
  | "expired"
  | "provider_error"
  | "bad_code"
  | "too_many_attempts"
  | "rate_limited"
  | "reauth_required"
  | "unavailable"
  | "cancelled"
  | "window_blocked"
  | "closed"
  | "replaced";

export class BrokerError extends Error {
  readonly name: "BrokerError";
  readonly code: BrokerErrorCode;
  /** The provider the failure is about, when there is one. */
  readonly provider?: string;
  constructor(code: BrokerErrorCode, message?: string, provider?: string);
}

export type BrokerState = "connecting" | "ready" | "offline";

export interface Grant {
  provider: string;
  accessToken: string;
  tokenType: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  scope: string;
  idToken?: string;
  claims?: { sub: string; email?: string; name?: string; [claim: string]: unknown };
}

/** What the page needs to keep between loads; `localStorage` and `sessionStorage` fit. */
export interface BrokerStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface BrokerClientOptions {
  /** The broker's `public_url`; default: where this module was loaded from. */
  url?: string;
  /**
   * Called when the broker asks for the code shown in the sign-in window; return it, or
   * null to cancel. After a wrong code it is called again with that error.
   */
  onConfirmCode?: (provider: string, previousError: BrokerError | null) => string | null | undefined | Promise<string | null | undefined>;
  /** Sealed refresh handles and the resume secret; default `localStorage`; null: memory only. */
  storage?: BrokerStorage | null;
  /**
   * Where the resume secret alone is kept; default: `storage`. `sessionStorage` gives each tab
   * its own session (two tabs of one dashboard then never take each other's session over).
   */
  resumeStorage?: BrokerStorage | null;
  /** For tests and unusual hosts: the WebSocket constructor (default `globalThis.WebSocket`). */
  WebSocket?: new (url: string) => WebSocket;
  /** For tests: opens a window (default `window.open(url, "_blank")`). */
  openWindow?: (url: string) => Window | null;
  /** For tests: the fetch used by `fetch` (default `globalThis.fetch`). */
  fetch?: typeof fetch;
  /** For tests: the clock, in milliseconds since the epoch. */
  now?: () => number;
}

export interface SignInOptions {
  /** Called with the sign-in link when no window could be opened: show it as a link. */
  onLink?: (url: string) => void;
  /** Aborting it rejects the sign-in with `cancelled`. */
  signal?: AbortSignal;
}

export interface StateChangeDetail {
  state: BrokerState;
  /** Why it went offline: "replaced" (opened in another window), "refused", "closed", or a text. */
  reason: string | null;
}

export interface BrokerClientEventMap {
  statechange: CustomEvent<StateChangeDetail>;
  signedin: CustomEvent<{ grant: Grant }>;
  error: CustomEvent<{ error: BrokerError }>;
}

export class BrokerClient extends EventTarget {
  constructor(options?: BrokerClientOptions);
  /** The broker's public URL, without a trailing slash. */
  readonly url: string;
  readonly state: BrokerState;
  /**
   * The broker's session from the last `hello` (null before it). A sign-in that fails with
   * `expired` while it changed was lost with the session (a broker restart without Redis).
   */
  readonly session: string | null;
  /** Provider names from the broker's last `hello`. */
  readonly providers: string[];
  /** Resolves on the first `hello`. */
  readonly ready: Promise<void>;
  /** Call from a click handler. */
  signIn(provider?: string, options?: SignInOptions): Promise<Grant>;
  /** A current access token, renewed through the sealed handle when near expiry. */
  accessToken(provider: string, options?: { forceRefresh?: boolean }): Promise<string>;
  /** `fetch` with the bearer token; one renewal and retry on 401. */
  fetch(provider: string, input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Whether a grant or a sealed handle is held for the provider. */
  isSignedIn(provider: string): boolean;
  /** Forgets the grant and the sealed handle held here. */
  signOut(provider: string): void;
  /** Reconnects now, e.g. after "replaced". */
  reconnect(): void;
  /** Closes for good; pending calls reject with `closed`. */
  close(): void;
  addEventListener<K extends keyof BrokerClientEventMap>(type: K, listener: (event: BrokerClientEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}
