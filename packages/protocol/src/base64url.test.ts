import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeBase64,
  decodeBase64Json,
  decodeBase64url,
  decodeBase64urlJson,
  encodeBase64,
  encodeBase64Json,
  encodeBase64url,
  encodeBase64urlJson,
} from './base64url.ts';
import { canonicalJson } from './canonical-json.ts';
import { codeOf } from './testing.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('base64url', () => {
  it('matches the RFC 4648 test vectors, with and without padding', () => {
    const vectors = [
      ['', '', ''],
      ['f', 'Zg', 'Zg=='],
      ['fo', 'Zm8', 'Zm8='],
      ['foo', 'Zm9v', 'Zm9v'],
      ['foob', 'Zm9vYg', 'Zm9vYg=='],
      ['fooba', 'Zm9vYmE', 'Zm9vYmE='],
      ['foobar', 'Zm9vYmFy', 'Zm9vYmFy'],
    ] as const;
    for (const [plain, url, standard] of vectors) {
      assert.equal(encodeBase64url(bytes(plain)), url);
      assert.equal(encodeBase64(bytes(plain)), standard);
      assert.deepEqual(decodeBase64url(url, 100), { ok: true, value: bytes(plain) });
      assert.deepEqual(decodeBase64(standard, 100), { ok: true, value: bytes(plain) });
    }
    assert.equal(encodeBase64url(new Uint8Array([0xfb, 0xff])), '-_8');
    assert.equal(encodeBase64(new Uint8Array([0xfb, 0xff])), '+/8=');
  });

  it('refuses padding, foreign characters, stray bits, impossible lengths and oversize', () => {
    assert.equal(codeOf(decodeBase64url('Zg==', 100)), 'badBase64');
    assert.equal(codeOf(decodeBase64url('Zm9v+A', 100)), 'badBase64');
    assert.equal(codeOf(decodeBase64url('Zm9 v', 100)), 'badBase64');
    assert.equal(
      codeOf(decodeBase64url('Zh', 100)),
      'badBase64',
      'Zh has stray bits: Zg is canonical',
    );
    assert.equal(codeOf(decodeBase64url('Zm9vY', 100)), 'badBase64');
    assert.equal(codeOf(decodeBase64url('é', 100)), 'badBase64');
    assert.equal(codeOf(decodeBase64url('Zm9v', 3)), 'valueTooLong');
    assert.equal(codeOf(decodeBase64url(7 as unknown as string, 3)), 'wrongType');
    assert.equal(codeOf(decodeBase64('Zg', 100)), 'badBase64');
    assert.equal(codeOf(decodeBase64('Zg=a', 100)), 'badBase64');
    assert.equal(codeOf(decodeBase64('Zm8==', 100)), 'badBase64');
    assert.equal(codeOf(decodeBase64('Zm9=', 100)), 'badBase64', 'stray bits before padding');
    assert.equal(codeOf(decodeBase64('Zm9v-_==', 100)), 'badBase64');
    assert.equal(codeOf(decodeBase64('Zm9v', 3)), 'valueTooLong');
  });

  it('round-trips arbitrary bytes, and every text decodes to one spelling only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        assert.deepEqual(decodeBase64url(encodeBase64url(data), 200), { ok: true, value: data });
        assert.deepEqual(decodeBase64(encodeBase64(data), 200), { ok: true, value: data });
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{0,12}$/), (text) => {
        const decoded = decodeBase64url(text, 100);
        if (decoded.ok) assert.equal(encodeBase64url(decoded.value), text);
      }),
    );
  });

  it("agrees with Node's Buffer, accepting exactly the texts Buffer would write", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        assert.equal(encodeBase64url(data), Buffer.from(data).toString('base64url'));
        assert.equal(encodeBase64(data), Buffer.from(data).toString('base64'));
      }),
    );
    // Buffer decodes leniently, so "canonical" is: what it decodes re-encodes to the same text.
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9+/_= -]{0,10}$/), (text) => {
        const url = decodeBase64url(text, 100);
        const urlCanonical = Buffer.from(text, 'base64url').toString('base64url') === text;
        assert.equal(url.ok, urlCanonical, `base64url ${JSON.stringify(text)}`);
        const standard = decodeBase64(text, 100);
        const standardCanonical = Buffer.from(text, 'base64').toString('base64') === text;
        assert.equal(standard.ok, standardCanonical, `base64 ${JSON.stringify(text)}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('says why it refuses, without echoing the alphabet', () => {
    const refusal = decodeBase64url('Zm9v+A', 100);
    assert.ok(!refusal.ok);
    assert.match(refusal.detail, /^base64url text is refused: /);
    assert.ok(refusal.detail.length < 100, refusal.detail);
  });

  it('carries canonical JSON, and refuses what is not JSON or not UTF-8', () => {
    const value = { b: [1, 'x', null, true], a: { d: 'é', c: -2 } };
    assert.equal(canonicalJson(value), '{"a":{"c":-2,"d":"é"},"b":[1,"x",null,true]}');
    assert.deepEqual(decodeBase64urlJson(encodeBase64urlJson(value), 1000), { ok: true, value });
    assert.deepEqual(decodeBase64Json(encodeBase64Json(value), 1000), { ok: true, value });
    assert.equal(codeOf(decodeBase64urlJson(encodeBase64url(bytes('{"a":')), 100)), 'badJson');
    assert.equal(
      codeOf(decodeBase64urlJson(encodeBase64url(new Uint8Array([0x22, 0xff, 0x22])), 100)),
      'badJson',
    );
    assert.equal(codeOf(decodeBase64urlJson(encodeBase64url(bytes('\ufeff{}')), 100)), 'badJson');
    assert.throws(() => canonicalJson({ a: Number.NaN }), TypeError);
    assert.throws(() => canonicalJson({ a: 1n }), TypeError);
    assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
  });
});
