import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { isMitePaymentError } from './errors.ts';
import { replayableBody, sendArguments, toReplayableRequest } from './replayable-request.ts';

describe('replayableBody', () => {
  it('copies bytes, so that a later change by the caller does not alter the retry', () => {
    const bytes = new TextEncoder().encode('abc');
    const kept = replayableBody(bytes);
    bytes[0] = 0x7a;
    assert.deepEqual(kept, new TextEncoder().encode('abc'));
    const view = new DataView(new TextEncoder().encode('xyz').buffer, 1, 2);
    assert.deepEqual(replayableBody(view), new TextEncoder().encode('yz'));
  });

  it('keeps strings, form data, blobs and search params', () => {
    assert.equal(replayableBody('text'), 'text');
    assert.equal(replayableBody(undefined), null);
    const params = new URLSearchParams({ a: '1' });
    const copy = replayableBody(params);
    params.set('a', '2');
    assert.equal(String(copy), 'a=1');
    const blob = new Blob(['x']);
    assert.equal(replayableBody(blob), blob);
    const form = new FormData();
    assert.equal(replayableBody(form), form);
  });

  it('refuses web streams, Node streams and async iterables', () => {
    const streams: unknown[] = [
      new ReadableStream(),
      Readable.from(['a']),
      (async function* () {
        yield 'a';
      })(),
    ];
    for (const stream of streams) {
      assert.throws(
        () => replayableBody(stream),
        (error) => isMitePaymentError(error, 'bodyNotReplayable'),
      );
    }
  });
});

describe('toReplayableRequest', () => {
  it('reads a Request, with init overriding it, and sends it with the credential', async () => {
    const request = new Request('https://shop.example/a?b=1#frag', {
      method: 'PUT',
      body: 'payload',
      headers: { 'x-one': '1' },
    });
    const replayable = await toReplayableRequest(request, { headers: { 'x-two': '2' } });
    assert.equal(replayable.url.href, 'https://shop.example/a?b=1');
    assert.equal(replayable.method, 'PUT');
    assert.equal(replayable.headers.get('x-two'), '2');
    assert.equal(replayable.headers.get('x-one'), null);
    assert.deepEqual(replayable.body, new TextEncoder().encode('payload'));
    const [href, init] = sendArguments(replayable, replayable.url, 'Payment abc');
    assert.equal(href, 'https://shop.example/a?b=1');
    assert.equal(new Headers(init.headers).get('authorization'), 'Payment abc');
    assert.equal(replayable.headers.get('authorization'), null, 'the template is untouched');
  });

  it('passes the caller’s other options on', async () => {
    const controller = new AbortController();
    const replayable = await toReplayableRequest(new URL('https://shop.example/x'), {
      redirect: 'manual',
      signal: controller.signal,
    });
    assert.equal(replayable.method, 'GET');
    const [, init] = sendArguments(replayable, replayable.url);
    assert.equal(init.redirect, 'manual');
    assert.equal(init.signal, controller.signal);
    assert.equal(init.body, undefined);
  });
});
