import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accepted, type Decoded, refused } from './problems.ts';
import { fail, ok, type Result } from './result.ts';

describe('result', () => {
  it('carries a value on success', () => {
    assert.deepEqual(ok(3), { ok: true, value: 3 });
  });

  it('carries a code, and a detail and extras only when given', () => {
    assert.deepEqual(fail('offerNotFound'), { ok: false, code: 'offerNotFound' });
    assert.deepEqual(fail('offerNotFound', 'no such offer'), {
      ok: false,
      code: 'offerNotFound',
      detail: 'no such offer',
    });
    assert.deepEqual(fail('alreadyPaid', undefined, { paymentId: 'pay_1' }), {
      ok: false,
      code: 'alreadyPaid',
      extra: { paymentId: 'pay_1' },
    });
  });

  it('is the shape a decoder answers, so a decoded value is a result', () => {
    const decoded: Decoded<number> = Math.random() < 2 ? accepted(1) : refused('badJson', 'no');
    const result: Result<number, string> = decoded;
    assert.deepEqual(result, ok(1));
    const refusal: Result<number, string> = refused('badJson', 'not JSON');
    assert.deepEqual(refusal, fail('badJson', 'not JSON'));
  });
});
