/**
 * The merchant's calls to the platform about its payment sessions, with its API key (scope
 * `sessions:write`): a checkpoint hands over the highest voucher (`POST
 * /v1/payment-sessions/{id}/vouchers`; the platform keeps the highest, and the same one again is a
 * success), and a close settles the session now at the highest voucher (`POST .../close`). Both
 * are off the request path: the meter calls them from its timer, and retries what failed.
 */
import type { SessionVoucherWire } from '@mite/protocol';

/** How long one platform call may take. */
export const sessionPlatformTimeoutMs = 10_000;
/** The longest platform answer read. */
export const sessionPlatformAnswerLengthMax = 65_536;

/** What the platform says of a session after a call. */
export interface PlatformSessionView {
  readonly state: string;
  readonly acceptedCumulativeMicros: bigint | undefined;
}

/**
 * `closed`: the platform settled the session already (or never had it): nothing more can be
 * claimed on it. `failed`: try again later (the platform was unreachable, or answered 5xx/429).
 * `refused`: the platform refused the voucher itself; trying again will not help.
 */
export type PlatformAnswer =
  | { readonly ok: true; readonly session: PlatformSessionView }
  | { readonly ok: false; readonly code: 'closed' | 'failed' | 'refused'; readonly detail: string };

export interface SessionPlatform {
  checkpoint(voucher: SessionVoucherWire): Promise<PlatformAnswer>;
  close(channelId: string, voucher: SessionVoucherWire | undefined): Promise<PlatformAnswer>;
}

export interface SessionPlatformOptions {
  readonly platformUrl: string;
  /** A merchant API key with scope `sessions:write`. */
  readonly apiKey: string;
  readonly fetch?: typeof fetch;
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text.length > sessionPlatformAnswerLengthMax) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function viewOf(body: unknown): PlatformSessionView | undefined {
  const session = (body as { session?: unknown } | undefined)?.session;
  if (typeof session !== 'object' || session === null) return undefined;
  const { state, acceptedCumulative } = session as Record<string, unknown>;
  if (typeof state !== 'string') return undefined;
  const accepted =
    typeof acceptedCumulative === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(acceptedCumulative)
      ? BigInt(acceptedCumulative)
      : undefined;
  return { state, acceptedCumulativeMicros: accepted };
}

/** The platform's answer: a session, or a problem whose `miteCode` says what to do next. */
async function answerOf(response: Response): Promise<PlatformAnswer> {
  const body = await readJson(response);
  if (response.ok) {
    const session = viewOf(body);
    return session === undefined
      ? { ok: false, code: 'failed', detail: 'the platform answered without a session' }
      : { ok: true, session };
  }
  const problem = (body ?? {}) as { miteCode?: unknown; detail?: unknown };
  const detail = `${response.status}: ${typeof problem.detail === 'string' ? problem.detail : 'no detail'}`;
  if (response.status >= 500 || response.status === 429 || response.status === 408) {
    return { ok: false, code: 'failed', detail };
  }
  if (
    problem.miteCode === 'sessionClosed' ||
    problem.miteCode === 'sessionUnknown' ||
    response.status === 404 ||
    response.status === 410
  ) {
    return { ok: false, code: 'closed', detail };
  }
  return { ok: false, code: 'refused', detail };
}

export function createSessionPlatform(options: SessionPlatformOptions): SessionPlatform {
  const fetcher = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const base = options.platformUrl.replace(/\/+$/, '');
  async function post(path: string, body: unknown): Promise<PlatformAnswer> {
    let response: Response;
    try {
      response = await fetcher(`${base}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${options.apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json, application/problem+json',
        },
        body: JSON.stringify(body),
        redirect: 'error',
        signal: AbortSignal.timeout(sessionPlatformTimeoutMs),
      });
    } catch (error) {
      return { ok: false, code: 'failed', detail: `the platform is unreachable: ${String(error)}` };
    }
    return answerOf(response);
  }
  const sessionPath = (channelId: string) =>
    `/v1/payment-sessions/${encodeURIComponent(channelId)}`;
  return {
    checkpoint: (voucher) => post(`${sessionPath(voucher.channelId)}/vouchers`, voucher),
    close: (channelId, voucher) =>
      post(`${sessionPath(channelId)}/close`, voucher === undefined ? {} : { voucher }),
  };
}
