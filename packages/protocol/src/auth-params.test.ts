import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  challengeCountMax,
  formatAuthChallenge,
  headerLengthMax,
  paramCountMax,
  parseAuthChallenges,
  parseAuthCredentials,
  quoteString,
  sameScheme,
} from './auth-params.ts';
import { codeOf } from './testing.ts';

function only(header: string): {
  scheme: string;
  token68?: string;
  params: Record<string, string>;
} {
  const parsed = parseAuthChallenges(header);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.detail);
  assert.equal(parsed.value.length, 1);
  const [challenge] = parsed.value;
  assert.ok(challenge !== undefined);
  const flat = { scheme: challenge.scheme, params: Object.fromEntries(challenge.params) };
  return challenge.token68 === undefined ? flat : { ...flat, token68: challenge.token68 };
}

describe('auth-params', () => {
  it('reads parameters with tokens, quoted strings and escapes, names folded to lower case', () => {
    assert.deepEqual(
      only('Payment id="a\\"b\\\\c", Realm=api.example, method = "mite" ,intent=charge'),
      {
        scheme: 'Payment',
        params: { id: 'a"b\\c', realm: 'api.example', method: 'mite', intent: 'charge' },
      },
    );
    assert.deepEqual(only('payment description="commas, and = signs"'), {
      scheme: 'payment',
      params: { description: 'commas, and = signs' },
    });
    assert.deepEqual(only('Payment x="caf\xe9"'), { scheme: 'Payment', params: { x: 'caf\xe9' } });
    assert.deepEqual(only('Payment x=""'), { scheme: 'Payment', params: { x: '' } });
    assert.ok(sameScheme('PAYMENT', 'Payment'));
  });

  it('reads several challenges of several schemes, token68 included', () => {
    const parsed = parseAuthChallenges(
      'Bearer realm="x", error="invalid_token", Basic YWxhZGRpbjpvcGVuc2VzYW1l==, Payment id="1", method="mite",, Negotiate',
    );
    assert.ok(parsed.ok);
    assert.deepEqual(
      parsed.value.map((challenge) => [
        challenge.scheme,
        challenge.token68,
        Object.fromEntries(challenge.params),
      ]),
      [
        ['Bearer', undefined, { realm: 'x', error: 'invalid_token' }],
        ['Basic', 'YWxhZGRpbjpvcGVuc2VzYW1l==', {}],
        ['Payment', undefined, { id: '1', method: 'mite' }],
        ['Negotiate', undefined, {}],
      ],
    );
    assert.deepEqual(only('Payment eyJhIjoxfQ'), {
      scheme: 'Payment',
      token68: 'eyJhIjoxfQ',
      params: {},
    });
    assert.deepEqual(only('Payment abc=='), { scheme: 'Payment', token68: 'abc==', params: {} });
    assert.deepEqual(only('Payment abc=def'), { scheme: 'Payment', params: { abc: 'def' } });
    assert.deepEqual(only('Payment id='), { scheme: 'Payment', token68: 'id=', params: {} });
  });

  it('refuses every malformation with a precise code', () => {
    const cases: [string, string][] = [
      ['Payment id="abc', 'unterminatedQuote'],
      ['Payment id="abc\\', 'unterminatedQuote'],
      ['Payment id="a", ID="b"', 'duplicateParameter'],
      ['Payment id="a\u0000"', 'badCharacter'],
      ['Payment id="a\r\nSet-Cookie: x"', 'badCharacter'],
      ['Payment id="\u20ac"', 'badCharacter'],
      ['Payment id="a" realm="b"', 'malformedHeader'],
      ['Payment a=b, c=', 'malformedHeader'],
      ['Payment a=b, c=, d=e', 'malformedHeader'],
      ['Payment id=a b', 'malformedHeader'],
      ['Payment\tid="a"', 'malformedHeader'],
      ['="a"', 'malformedHeader'],
      ['Payment @@', 'malformedHeader'],
      ['', 'malformedHeader'],
      [' , ,', 'malformedHeader'],
      ['x'.repeat(headerLengthMax + 1), 'headerTooLong'],
    ];
    for (const [header, code] of cases)
      assert.equal(codeOf(parseAuthChallenges(header)), code, header);
    const many = `Payment ${Array.from({ length: paramCountMax + 1 }, (_, i) => `p${i}=x`).join(', ')}`;
    assert.equal(codeOf(parseAuthChallenges(many)), 'tooManyParameters');
    const crowd = Array.from({ length: challengeCountMax + 1 }, () => 'Basic').join(', ');
    assert.equal(codeOf(parseAuthChallenges(crowd)), 'tooManyEntries');
    assert.equal(codeOf(parseAuthChallenges(null as unknown as string)), 'wrongType');
  });

  it('reads exactly one credential from an Authorization value', () => {
    const parsed = parseAuthCredentials('Payment eyJhIjoxfQ');
    assert.ok(parsed.ok);
    assert.equal(parsed.value.token68, 'eyJhIjoxfQ');
    assert.equal(codeOf(parseAuthCredentials('Payment a, Payment b')), 'malformedHeader');
    assert.equal(codeOf(parseAuthCredentials('Payment abc', 5)), 'headerTooLong');
  });

  it('writes challenges that read back to the same parameters, whatever the values', () => {
    assert.equal(
      formatAuthChallenge('Payment', [
        ['id', 'a"b\\c'],
        ['realm', 'x'],
      ]),
      'Payment id="a\\"b\\\\c", realm="x"',
    );
    assert.equal(formatAuthChallenge('Negotiate', []), 'Negotiate');
    assert.throws(() => quoteString('a\nb'), RangeError);
    assert.throws(() => formatAuthChallenge('Pay ment', []), RangeError);
    assert.throws(() => formatAuthChallenge('Payment', [['a b', 'x']]), RangeError);
    const value = fc.string({
      unit: fc
        .integer({ min: 0x20, max: 0xff })
        .filter((c) => c !== 0x7f)
        .map((c) => String.fromCharCode(c)),
      maxLength: 40,
    });
    const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(name, value), { selector: ([n]) => n, maxLength: 10 }),
        (params) => {
          const header = formatAuthChallenge('Payment', params);
          const parsed = parseAuthChallenges(header);
          assert.ok(parsed.ok, header);
          assert.deepEqual([...(parsed.value[0]?.params ?? [])], params);
        },
      ),
    );
  });
});
