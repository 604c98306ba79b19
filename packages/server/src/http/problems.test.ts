import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fail, ok } from '../result.ts';
import {
  problem,
  type ProblemCode,
  problemCodeFromSlug,
  problemCodes,
  ProblemError,
  type ProblemRow,
  problemSlug,
  problemTable,
  problemType,
  valueOrProblem,
} from './problems.ts';

test('the table has exactly one row per code (checked by the compiler)', () => {
  const { internal: _dropped, ...incomplete } = problemTable;
  // @ts-expect-error: a code without its row does not compile.
  const table: { readonly [C in ProblemCode]: ProblemRow } = incomplete;
  assert.equal(Object.keys(table).length, problemCodes.length - 1);
});

test('every code has a stable kebab-case type URI that leads back to it', () => {
  assert.equal(problemSlug('insufficientFunds'), 'insufficient-funds');
  assert.equal(problemType('idempotencyKeyReused'), '/v1/problems/idempotency-key-reused');
  const slugs = new Set(problemCodes.map(problemSlug));
  assert.equal(slugs.size, problemCodes.length);
  for (const code of problemCodes) {
    assert.match(problemSlug(code), /^[a-z]+(-[a-z]+)*$/);
    assert.equal(problemCodeFromSlug(problemSlug(code)), code);
    const { status, title, description } = problemTable[code];
    assert.ok(status >= 400 && status <= 599, code);
    assert.ok(title.length > 0 && description.length > 0, code);
  }
  assert.equal(problemCodeFromSlug('insufficientFunds'), undefined);
});

test('the statuses the API promises', () => {
  const statuses = Object.fromEntries(
    problemCodes.map((code) => [code, problemTable[code].status]),
  );
  assert.deepEqual(
    {
      idempotencyKeyReused: statuses.idempotencyKeyReused,
      idempotencyRequestInProgress: statuses.idempotencyRequestInProgress,
      insufficientFunds: statuses.insufficientFunds,
      rateLimited: statuses.rateLimited,
      methodNotAllowed: statuses.methodNotAllowed,
    },
    {
      idempotencyKeyReused: 422,
      idempotencyRequestInProgress: 409,
      insufficientFunds: 409,
      rateLimited: 429,
      methodNotAllowed: 405,
    },
  );
});

test('problem bodies follow RFC 9457; extensions never override its members', () => {
  assert.deepEqual(problem('offerNotFound'), {
    type: '/v1/problems/offer-not-found',
    title: 'No such offer',
    status: 404,
  });
  const body = problem('validationFailed', 'body/amount: too small', {
    status: 200,
    type: 'about:blank',
    issues: [],
    instance: 'urn:uuid:1',
  });
  assert.equal(body.status, 400);
  assert.equal(body.type, '/v1/problems/validation-failed');
  assert.equal(body.detail, 'body/amount: too small');
  assert.deepEqual(body.issues, []);
  assert.equal(body.instance, 'urn:uuid:1');
});

test('results become values or problems', () => {
  assert.equal(valueOrProblem(ok(5)), 5);
  assert.throws(
    () => valueOrProblem(fail('merchantNotFound', 'm_1')),
    (error: unknown) =>
      error instanceof ProblemError &&
      error.problemCode === 'merchantNotFound' &&
      error.detail === 'm_1',
  );
});
