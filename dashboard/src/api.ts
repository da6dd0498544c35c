// The HTTP client: bearer tokens, one refresh at a time, and the API's
// `{code, message, details}` errors as exceptions.

export class ApiError extends Error {
  status: number;
  code: string;
  details: Record<string, unknown>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
  /** Field errors of a `validation_failed` answer. */
  get fields(): Record<string, string> {
    return (this.details?.fields as Record<string, string>) ?? {};
  }
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  kind: "staff" | "customer";
  telegram_id: number;
}

const REFRESH_KEY = "mrjbot.refresh";
let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<() => void>();

export function onSignedOut(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

export function setTokens(t: Tokens | null) {
  if (t) {
    accessToken = t.access_token;
    localStorage.setItem(REFRESH_KEY, t.refresh_token);
  } else {
    accessToken = null;
    localStorage.removeItem(REFRESH_KEY);
  }
}

export function currentAccessToken(): string | null {
  return accessToken;
}

export function hasRefreshToken(): boolean {
  return localStorage.getItem(REFRESH_KEY) !== null;
}

/** Trades the stored refresh token for new tokens; false when the session is gone. */
export function refresh(): Promise<boolean> {
  if (refreshing) return refreshing;
  const token = localStorage.getItem(REFRESH_KEY);
  if (!token) return Promise.resolve(false);
  refreshing = (async () => {
    try {
      const res = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
      if (!res.ok) {
        setTokens(null);
        listeners.forEach((f) => f());
        return false;
      }
      setTokens((await res.json()) as Tokens);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function errorOf(res: Response): Promise<ApiError> {
  try {
    const body = await res.json();
    return new ApiError(res.status, body.code ?? "error", body.message ?? res.statusText, body.details ?? {});
  } catch {
    return new ApiError(res.status, "error", res.statusText);
  }
}

export interface CallOptions {
  method?: string;
  body?: unknown;
}

async function send(path: string, opts: CallOptions): Promise<Response> {
  const headers: Record<string, string> = {};
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (accessToken) headers["Authorization"] = `Bearer ${accessToken}`;
  return fetch(path, {
    method: opts.method ?? (opts.body === undefined ? "GET" : "POST"),
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
}

/** Calls the API; refreshes an expired access token once and retries. */
export async function raw(path: string, opts: CallOptions = {}): Promise<Response> {
  let res = await send(path, opts);
  if (res.status === 401 && hasRefreshToken()) {
    const err = await errorOf(res.clone());
    if (err.code === "token_expired" || err.code === "unauthorized") {
      if (await refresh()) res = await send(path, opts);
    }
  }
  return res;
}

export async function api<T>(path: string, opts: CallOptions = {}): Promise<T> {
  const res = await raw(path, opts);
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A protected file (a receipt photo) as an object URL. */
export async function blobUrl(path: string): Promise<string> {
  const res = await raw(path);
  if (!res.ok) throw await errorOf(res);
  return URL.createObjectURL(await res.blob());
}

export async function signIn(path: string, body: unknown): Promise<Tokens> {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await errorOf(res);
  const t = (await res.json()) as Tokens;
  setTokens(t);
  return t;
}
