/**
 * A request the client can send more than once: first as asked, then again with the payment
 * credential. Bodies are therefore kept in a form `fetch` can send again: strings, bytes (copied
 * once, so later changes by the caller do not alter the retry), URLSearchParams (copied), Blob and
 * FormData. A stream can be read only once, so it is refused up front, before anything is sent.
 */
import { MitePaymentError } from './errors.ts';

/** The fetch argument types this client accepts, as the global `fetch` does. */
export type FetchInput = string | URL | Request;
export type FetchBody = NonNullable<RequestInit['body']>;
type ReplayableBody = string | Uint8Array | URLSearchParams | Blob | FormData;

export interface ReplayableRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Headers;
  readonly body: ReplayableBody | null;
  /** The caller's other options (redirect, credentials, cache, signal...), passed on each time. */
  readonly init: RequestInit;
}

function isStream(body: object): boolean {
  const candidate = body as {
    getReader?: unknown;
    pipe?: unknown;
    [Symbol.asyncIterator]?: unknown;
  };
  return (
    typeof candidate.getReader === 'function' ||
    typeof candidate.pipe === 'function' ||
    typeof candidate[Symbol.asyncIterator] === 'function'
  );
}

function copyBytes(view: ArrayBufferView | ArrayBuffer): Uint8Array {
  const source =
    view instanceof ArrayBuffer
      ? new Uint8Array(view)
      : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  return new Uint8Array(source);
}

/** A body that can be sent again, or `bodyNotReplayable`. */
export function replayableBody(body: unknown): ReplayableBody | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return body;
  if (typeof body !== 'object') {
    throw new MitePaymentError('bodyNotReplayable', `a ${typeof body} is not a request body`);
  }
  if (body instanceof URLSearchParams) return new URLSearchParams(body);
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return copyBytes(body);
  if (typeof Blob !== 'undefined' && body instanceof Blob) return body;
  if (typeof FormData !== 'undefined' && body instanceof FormData) return body;
  if (isStream(body)) {
    throw new MitePaymentError(
      'bodyNotReplayable',
      'a stream body can be sent only once, and a paid request is sent twice (before and after ' +
        'paying); pass a string, ArrayBuffer, Uint8Array, URLSearchParams, Blob or FormData',
    );
  }
  throw new MitePaymentError('bodyNotReplayable', 'this kind of body cannot be sent twice');
}

/** `fetch` never sends the fragment; dropping it keeps keys and retries plain. */
function withoutFragment(url: URL): URL {
  url.hash = '';
  return url;
}

function baseUrl(): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href;
}

/**
 * Reads `fetch`'s arguments into a replayable request. A `Request`'s body is read into memory
 * once (it is a stream by nature); `init` overrides the `Request`'s fields, as in `fetch`.
 */
export async function toReplayableRequest(
  input: FetchInput,
  init: RequestInit | undefined,
): Promise<ReplayableRequest> {
  if (init?.body !== undefined && init.body !== null) replayableBody(init.body);
  if (typeof Request !== 'undefined' && input instanceof Request) {
    const merged = init === undefined ? input : new Request(input, init);
    const body =
      merged.body === null || merged.method === 'GET' || merged.method === 'HEAD'
        ? null
        : new Uint8Array(await merged.arrayBuffer());
    const signal = init?.signal ?? input.signal;
    // `cache` is a browser option that Node's types leave out; passed on where it exists.
    const options = {
      redirect: merged.redirect,
      credentials: merged.credentials,
      cache: merged.cache,
      integrity: merged.integrity,
      keepalive: merged.keepalive,
      referrerPolicy: merged.referrerPolicy,
      signal,
    } as RequestInit;
    return {
      url: withoutFragment(new URL(merged.url)),
      method: merged.method,
      headers: new Headers(merged.headers),
      body,
      init: options,
    };
  }
  const url = withoutFragment(
    new URL(input instanceof URL ? input.href : String(input), baseUrl()),
  );
  const { body, headers, method, ...rest } = init ?? {};
  return {
    url,
    method: method ?? 'GET',
    headers: new Headers(headers),
    body: replayableBody(body),
    init: rest,
  };
}

/** The `fetch` arguments of one send, with `authorization` set when a credential is given. */
export function sendArguments(
  request: ReplayableRequest,
  url: URL,
  authorization?: string,
): [string, RequestInit] {
  const headers = new Headers(request.headers);
  if (authorization !== undefined) headers.set('authorization', authorization);
  const init: RequestInit = { ...request.init, method: request.method, headers };
  if (request.body !== null) init.body = request.body as FetchBody;
  return [url.href, init];
}
