/**
 * Watches a metered response's server-sent events as the caller reads them: every byte passes
 * through unchanged, and each complete event is handed to `onEvent` (the session answers
 * `payment-need-voucher` with a voucher, and reads the final `payment-receipt`). Only the events'
 * framing is parsed (WHATWG HTML, "server-sent events"): `event:` and `data:` lines up to a blank
 * line.
 */

/** The longest event kept while its end has not arrived; a longer one is not watched. */
export const watchedEventLengthMax = 65_536;

export interface WatchedEvent {
  readonly event: string;
  readonly data: string;
}

/** Splits the text read so far into complete events; answers what is left over. */
function takeEvents(text: string, onEvent: (event: WatchedEvent) => void): string {
  let rest = text;
  for (;;) {
    const match = /\r\n\r\n|\n\n|\r\r/.exec(rest);
    if (match === null) return rest;
    const block = rest.slice(0, match.index);
    rest = rest.slice(match.index + match[0].length);
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r\n|\r|\n/)) {
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) onEvent({ event, data: data.join('\n') });
  }
}

/** The response, its body watched; status, headers and URL are the original's. */
export function watchEvents(response: Response, onEvent: (event: WatchedEvent) => void): Response {
  if (response.body === null) return response;
  const decoder = new TextDecoder();
  let pending = '';
  const watcher = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      controller.enqueue(chunk);
      pending = takeEvents(pending + decoder.decode(chunk, { stream: true }), onEvent);
      // An event this long is not one of ours: stop holding it.
      if (pending.length > watchedEventLengthMax) pending = '';
    },
  });
  const watched = new Response(response.body.pipeThrough(watcher), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  Object.defineProperty(watched, 'url', { value: response.url });
  return watched;
}
