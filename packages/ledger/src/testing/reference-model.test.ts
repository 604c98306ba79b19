import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Account, Transfer } from '../types.ts';
import { U128_MAX } from '../types.ts';
import { createReferenceModel, type ReferenceModel } from './reference-model.ts';

const S = 1_000_000_000n;
const T0 = 1_700_000_000n * S;

function acc(id: bigint, extra: Partial<Account> = {}): Account {
  return { id, ledger: 1, code: 10, ...extra };
}

function tr(id: bigint, dr: bigint, cr: bigint, amount: bigint, extra: Partial<Transfer> = {}) {
  const t: Transfer = { id, debitAccountId: dr, creditAccountId: cr, amount, ledger: 1, code: 1 };
  return { ...t, ...extra };
}

function balances(m: ReferenceModel, id: bigint): [bigint, bigint, bigint, bigint] {
  const a = m.account(id);
  assert.ok(a, `account ${id} exists`);
  return [a.debitsPending, a.debitsPosted, a.creditsPending, a.creditsPosted];
}

/** A model with accounts 1..4 on ledger 1 and 9 on ledger 2. */
function setup(extra: Account[] = []): ReferenceModel {
  const m = createReferenceModel();
  const res = m.createAccounts(
    [acc(1n), acc(2n), acc(3n), acc(4n), acc(9n, { ledger: 2 }), ...extra],
    T0,
  );
  assert.ok(res.every((r) => r === 'ok'));
  return m;
}

describe('reference model: createAccounts', () => {
  it('validates in the spec order', () => {
    const m = createReferenceModel();
    const both = { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: true };
    assert.deepEqual(
      m.createAccounts(
        [
          acc(0n, { ledger: 0, flags: both }),
          acc(U128_MAX),
          acc(5n, { ledger: 0, flags: both }),
          acc(5n, { ledger: 0, code: 0 }),
          acc(5n, { code: 0 }),
          acc(5n),
        ],
        T0,
      ),
      [
        'idMustNotBeZero',
        'idMustNotBeIntMax',
        'flagsAreMutuallyExclusive',
        'ledgerMustNotBeZero',
        'codeMustNotBeZero',
        'ok',
      ],
    );
  });

  it('reports exists variants in order: flags, userData, ledger, code', () => {
    const m = createReferenceModel();
    m.createAccounts([acc(7n, { userData: 3n, flags: { closed: true } })], T0);
    assert.deepEqual(
      m.createAccounts(
        [
          acc(7n, { userData: 4n, ledger: 2, code: 2 }),
          acc(7n, { userData: 4n, ledger: 2, code: 2, flags: { closed: true } }),
          acc(7n, { userData: 3n, ledger: 2, code: 2, flags: { closed: true } }),
          acc(7n, { userData: 3n, code: 2, flags: { closed: true } }),
          acc(7n, { userData: 3n, flags: { closed: true, linked: false } }),
        ],
        T0,
      ),
      [
        'existsWithDifferentFlags',
        'existsWithDifferentUserData',
        'existsWithDifferentLedger',
        'existsWithDifferentCode',
        'exists',
      ],
    );
  });

  it('rolls back a failed chain and leaves open chains unapplied', () => {
    const m = createReferenceModel();
    assert.deepEqual(
      m.createAccounts(
        [
          acc(1n, { flags: { linked: true } }),
          acc(2n, { flags: { linked: true } }),
          acc(3n, { code: 0 }),
          acc(4n),
          acc(5n, { flags: { linked: true } }),
          acc(6n, { flags: { linked: true } }),
        ],
        T0,
      ),
      [
        'linkedEventFailed',
        'linkedEventFailed',
        'codeMustNotBeZero',
        'ok',
        'linkedEventChainOpen',
        'linkedEventChainOpen',
      ],
    );
    assert.deepEqual(m.accountIds(), [4n]);
  });

  it('a chain fails on a duplicate inside it (exists is not ok)', () => {
    const m = createReferenceModel();
    assert.deepEqual(m.createAccounts([acc(1n, { flags: { linked: true } }), acc(1n)], T0), [
      'linkedEventFailed',
      'exists',
    ]);
    assert.equal(m.account(1n), undefined);
  });
});

describe('reference model: single-phase and pending transfers', () => {
  it('validates in the spec order', () => {
    const m = setup();
    const cases: [Transfer, string][] = [
      [tr(0n, 0n, 0n, 0n, { flags: { pending: true, postPending: true } }), 'idMustNotBeZero'],
      [tr(U128_MAX, 0n, 0n, 0n), 'idMustNotBeIntMax'],
      [
        tr(5n, 0n, 0n, 0n, { flags: { pending: true, voidPending: true } }),
        'flagsAreMutuallyExclusive',
      ],
      [
        tr(5n, 0n, 0n, 0n, { flags: { balancingDebit: true, postPending: true } }),
        'flagsAreMutuallyExclusive',
      ],
      [tr(5n, 0n, 0n, 0n), 'debitAccountIdMustNotBeZero'],
      [tr(5n, U128_MAX, 0n, 0n), 'debitAccountIdMustNotBeIntMax'],
      [tr(5n, 1n, 0n, 0n), 'creditAccountIdMustNotBeZero'],
      [tr(5n, 1n, U128_MAX, 0n), 'creditAccountIdMustNotBeIntMax'],
      [tr(5n, 1n, 1n, 0n, { pendingId: 3n }), 'accountsMustBeDifferent'],
      [tr(5n, 1n, 2n, 0n, { pendingId: 3n, timeoutSeconds: 1 }), 'pendingIdMustBeZero'],
      [tr(5n, 1n, 2n, 0n, { timeoutSeconds: 1, ledger: 0 }), 'timeoutReservedForPendingTransfer'],
      [tr(5n, 1n, 2n, 0n, { ledger: 0, code: 0 }), 'ledgerMustNotBeZero'],
      [tr(5n, 1n, 2n, 0n, { code: 0 }), 'codeMustNotBeZero'],
      [tr(5n, 1n, 2n, 0n), 'amountMustNotBeZero'],
      [tr(5n, 77n, 2n, 1n), 'debitAccountNotFound'],
      [tr(6n, 1n, 77n, 1n), 'creditAccountNotFound'],
      [tr(7n, 1n, 9n, 1n), 'accountsMustHaveTheSameLedger'],
      [tr(8n, 1n, 2n, 1n, { ledger: 2 }), 'transferMustHaveTheSameLedgerAsAccounts'],
      [tr(10n, 1n, 2n, 5n, { flags: { pending: true }, timeoutSeconds: 1 }), 'ok'],
    ];
    for (const [t, expected] of cases) {
      assert.deepEqual(
        m.createTransfers([t], T0),
        [expected],
        JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)),
      );
    }
    assert.equal(m.isFailed(5n), true);
    assert.equal(m.isFailed(6n), true);
    assert.equal(m.isFailed(7n), false);
    assert.equal(m.isFailed(8n), false);
  });

  it('posts and credits balances; rejects closed accounts', () => {
    const m = setup([acc(20n, { flags: { closed: true } })]);
    assert.deepEqual(
      m.createTransfers([tr(1n, 1n, 2n, 10n), tr(2n, 20n, 2n, 1n), tr(3n, 1n, 20n, 1n)], T0),
      ['ok', 'accountClosed', 'accountClosed'],
    );
    assert.deepEqual(balances(m, 1n), [0n, 10n, 0n, 0n]);
    assert.deepEqual(balances(m, 2n), [0n, 0n, 0n, 10n]);
    assert.deepEqual(m.transfer(1n), {
      id: 1n,
      debitAccountId: 1n,
      creditAccountId: 2n,
      amount: 10n,
      ledger: 1,
      code: 1,
      flags: {
        pending: false,
        postPending: false,
        voidPending: false,
        balancingDebit: false,
        balancingCredit: false,
      },
      pendingId: 0n,
      timeoutSeconds: 0,
      userData: 0n,
    });
    assert.deepEqual(m.createTransfers([tr(2n, 1n, 2n, 1n)], T0), ['idAlreadyFailed']);
  });

  it('reports exists variants in order and idAlreadyFailed after them', () => {
    const m = setup();
    const base = tr(1n, 1n, 2n, 10n, { userData: 5n, flags: { pending: true }, timeoutSeconds: 9 });
    assert.deepEqual(m.createTransfers([base], T0), ['ok']);
    const variants: [Partial<Transfer>, string][] = [
      [{ flags: { pending: true, balancingDebit: true } }, 'existsWithDifferentFlags'],
      [
        { flags: { pending: true, linked: false }, timeoutSeconds: 8 },
        'existsWithDifferentTimeout',
      ],
      [{ debitAccountId: 3n, creditAccountId: 3n }, 'accountsMustBeDifferent'],
      [{ debitAccountId: 3n, creditAccountId: 4n }, 'existsWithDifferentDebitAccountId'],
      [{ creditAccountId: 4n, amount: 11n }, 'existsWithDifferentCreditAccountId'],
      [{ amount: 11n, userData: 0n }, 'existsWithDifferentAmount'],
      [{ userData: 0n, ledger: 2 }, 'existsWithDifferentUserData'],
      [{ ledger: 2, code: 2 }, 'existsWithDifferentLedger'],
      [{ code: 2 }, 'existsWithDifferentCode'],
      [{}, 'exists'],
    ];
    for (const [change, expected] of variants) {
      assert.deepEqual(m.createTransfers([{ ...base, ...change }], T0), [expected], expected);
    }
    // pendingId is checked before exists (check 5), so existsWithDifferentPendingId needs a post.
    assert.deepEqual(m.createTransfers([tr(2n, 1n, 77n, 1n)], T0), ['creditAccountNotFound']);
    assert.deepEqual(m.createTransfers([tr(2n, 1n, 2n, 1n)], T0), ['idAlreadyFailed']);
    assert.deepEqual(m.createTransfers([tr(2n, 1n, 2n, 0n)], T0), ['amountMustNotBeZero']);
  });

  it('enforces account limits and overflow', () => {
    const m = setup([
      acc(30n, { flags: { debitsMustNotExceedCredits: true } }),
      acc(31n, { flags: { creditsMustNotExceedDebits: true } }),
    ]);
    assert.deepEqual(
      m.createTransfers(
        [
          tr(1n, 30n, 1n, 1n),
          tr(2n, 1n, 31n, 1n),
          tr(3n, 1n, 30n, 10n),
          tr(4n, 30n, 1n, 4n, { flags: { pending: true } }),
          tr(5n, 30n, 2n, 7n),
          tr(6n, 30n, 2n, 6n),
          tr(7n, 31n, 1n, 3n),
          tr(8n, 1n, 31n, 3n),
          tr(9n, 1n, 31n, 1n),
          tr(10n, 3n, 4n, U128_MAX),
          tr(11n, 3n, 1n, 1n),
          tr(12n, 2n, 4n, 1n),
        ],
        T0,
      ),
      [
        'exceedsCredits',
        'exceedsDebits',
        'ok',
        'ok',
        'exceedsCredits',
        'ok',
        'ok',
        'ok',
        'exceedsDebits',
        'ok',
        'overflowsDebits',
        'overflowsCredits',
      ],
    );
    assert.deepEqual(balances(m, 30n), [4n, 6n, 0n, 10n]);
    assert.deepEqual(balances(m, 31n), [0n, 3n, 0n, 3n]);
    assert.equal(m.isFailed(1n), true);
    assert.equal(m.isFailed(11n), true);
  });

  it('clamps balancing transfers', () => {
    const m = setup();
    m.createTransfers([tr(1n, 2n, 1n, 10n), tr(2n, 1n, 2n, 3n, { flags: { pending: true } })], T0);
    // Account 1: creditsPosted 10, debitsPending 3: it can pay 7 more.
    assert.deepEqual(
      m.createTransfers(
        [
          tr(3n, 1n, 3n, 5n, { flags: { balancingDebit: true } }),
          tr(4n, 1n, 3n, 0n, { flags: { balancingDebit: true } }),
          tr(5n, 1n, 3n, 0n, { flags: { balancingDebit: true } }),
          // Account 3 has creditsPosted 7: balancingCredit towards 3 can take nothing.
          tr(6n, 4n, 3n, 9n, { flags: { balancingCredit: true } }),
          // Account 2 has debitsPosted 10, creditsPending 3: it can take 7.
          tr(7n, 4n, 2n, 0n, { flags: { balancingCredit: true, pending: true } }),
        ],
        T0,
      ),
      ['ok', 'ok', 'ok', 'ok', 'ok'],
    );
    assert.equal(m.transfer(3n)?.amount, 5n);
    assert.equal(m.transfer(4n)?.amount, 2n);
    assert.equal(m.transfer(5n)?.amount, 0n);
    assert.equal(m.transfer(6n)?.amount, 0n);
    assert.equal(m.transfer(7n)?.amount, 7n);
    assert.deepEqual(balances(m, 1n), [3n, 7n, 0n, 10n]);
    assert.deepEqual(balances(m, 2n), [0n, 10n, 10n, 0n]);
    const bal = { balancingDebit: true } as const;
    // Balancing retries: a different amount is reported only when stored > requested != 0.
    assert.deepEqual(
      m.createTransfers(
        [
          tr(4n, 1n, 3n, 0n, { flags: bal }),
          tr(4n, 1n, 3n, 2n, { flags: bal }),
          tr(4n, 1n, 3n, 100n, { flags: bal }),
          tr(4n, 1n, 3n, 1n, { flags: bal }),
        ],
        T0,
      ),
      ['exists', 'exists', 'exists', 'existsWithDifferentAmount'],
    );
  });

  it('rejects a timeout that overflows u64 nanoseconds', () => {
    const m = createReferenceModel();
    const now = (1n << 64n) - 5n * S;
    m.createAccounts([acc(1n), acc(2n)], now);
    assert.deepEqual(
      m.createTransfers(
        [
          tr(1n, 1n, 2n, 1n, { flags: { pending: true }, timeoutSeconds: 10 }),
          tr(2n, 1n, 2n, 1n, { flags: { pending: true }, timeoutSeconds: 1 }),
        ],
        now,
      ),
      ['overflowsTimeout', 'ok'],
    );
    assert.equal(m.isFailed(1n), false);
  });
});

describe('reference model: post and void', () => {
  it('validates in the spec order', () => {
    const m = setup();
    m.createTransfers([tr(1n, 1n, 2n, 10n, { flags: { pending: true } }), tr(2n, 1n, 2n, 10n)], T0);
    const post = { postPending: true } as const;
    const cases: [Transfer, string][] = [
      [tr(5n, 0n, 0n, 0n, { flags: post }), 'pendingIdMustNotBeZero'],
      [tr(5n, 0n, 0n, 0n, { flags: post, pendingId: U128_MAX }), 'pendingIdMustNotBeIntMax'],
      [tr(5n, 0n, 0n, 0n, { flags: post, pendingId: 5n }), 'pendingIdMustBeDifferent'],
      [
        tr(5n, 0n, 0n, 0n, { flags: post, pendingId: 1n, timeoutSeconds: 1 }),
        'timeoutReservedForPendingTransfer',
      ],
      [tr(5n, 0n, 0n, 0n, { flags: post, pendingId: 77n }), 'pendingTransferNotFound'],
      [tr(6n, 0n, 0n, 0n, { flags: post, pendingId: 2n }), 'pendingTransferNotPending'],
      [
        tr(6n, 3n, 0n, 0n, { flags: post, pendingId: 1n }),
        'pendingTransferHasDifferentDebitAccountId',
      ],
      [
        tr(6n, 1n, 3n, 0n, { flags: post, pendingId: 1n }),
        'pendingTransferHasDifferentCreditAccountId',
      ],
      [
        tr(6n, 1n, 2n, 0n, { flags: post, pendingId: 1n, ledger: 2 }),
        'pendingTransferHasDifferentLedger',
      ],
      [
        tr(6n, 1n, 2n, 0n, { flags: post, pendingId: 1n, ledger: 1, code: 2 }),
        'pendingTransferHasDifferentCode',
      ],
      [
        tr(6n, 0n, 0n, 11n, { flags: post, pendingId: 1n, code: 0, ledger: 0 }),
        'exceedsPendingTransferAmount',
      ],
      [
        tr(6n, 0n, 0n, 9n, { flags: { voidPending: true }, pendingId: 1n }),
        'pendingTransferHasDifferentAmount',
      ],
      [tr(6n, 0n, 0n, 4n, { flags: post, pendingId: 1n, userData: 8n }), 'ok'],
      [tr(7n, 0n, 0n, 0n, { flags: post, pendingId: 1n }), 'pendingTransferAlreadyPosted'],
      [
        tr(7n, 0n, 0n, 0n, { flags: { voidPending: true }, pendingId: 1n }),
        'pendingTransferAlreadyPosted',
      ],
    ];
    for (const [t, expected] of cases) {
      assert.deepEqual(m.createTransfers([t], T0), [expected], expected);
    }
    assert.equal(m.isFailed(5n), true);
    assert.equal(m.isFailed(6n), false);
    assert.equal(m.pendingStatus(1n), 'posted');
    // A partial post releases the rest.
    assert.deepEqual(balances(m, 1n), [0n, 14n, 0n, 0n]);
    assert.deepEqual(balances(m, 2n), [0n, 0n, 0n, 14n]);
    assert.deepEqual(m.transfer(6n), {
      id: 6n,
      debitAccountId: 1n,
      creditAccountId: 2n,
      amount: 4n,
      ledger: 1,
      code: 1,
      flags: {
        pending: false,
        postPending: true,
        voidPending: false,
        balancingDebit: false,
        balancingCredit: false,
      },
      pendingId: 1n,
      timeoutSeconds: 0,
      userData: 8n,
    });
  });

  it('posts the full amount for zero, voids, and compares retries only on non-zero fields', () => {
    const m = setup();
    m.createTransfers(
      [
        tr(1n, 1n, 2n, 10n, { flags: { pending: true } }),
        tr(2n, 3n, 4n, 6n, { flags: { pending: true } }),
      ],
      T0,
    );
    const post = { postPending: true } as const;
    const voidF = { voidPending: true } as const;
    assert.deepEqual(
      m.createTransfers(
        [
          tr(10n, 0n, 0n, 0n, { flags: post, pendingId: 1n }),
          tr(11n, 0n, 0n, 0n, { flags: voidF, pendingId: 2n }),
          tr(12n, 0n, 0n, 0n, { flags: voidF, pendingId: 2n }),
          tr(10n, 0n, 0n, 0n, { flags: voidF, pendingId: 1n }),
          tr(10n, 0n, 0n, 0n, { flags: post, pendingId: 2n }),
          tr(10n, 3n, 0n, 0n, { flags: post, pendingId: 1n }),
          tr(10n, 1n, 4n, 0n, { flags: post, pendingId: 1n }),
          tr(10n, 1n, 2n, 9n, { flags: post, pendingId: 1n }),
          tr(10n, 1n, 2n, 10n, { flags: post, pendingId: 1n, userData: 1n }),
          tr(10n, 1n, 2n, 10n, { flags: post, pendingId: 1n, ledger: 2 }),
          tr(10n, 1n, 2n, 10n, { flags: post, pendingId: 1n, ledger: 1, code: 5 }),
          tr(10n, 1n, 2n, 10n, { flags: post, pendingId: 1n, ledger: 1, code: 1 }),
          tr(11n, 0n, 0n, 6n, { flags: voidF, pendingId: 2n }),
          tr(11n, 0n, 0n, 5n, { flags: voidF, pendingId: 2n }),
        ],
        T0,
      ),
      [
        'ok',
        'ok',
        'pendingTransferAlreadyVoided',
        'existsWithDifferentFlags',
        'existsWithDifferentPendingId',
        'existsWithDifferentDebitAccountId',
        'existsWithDifferentCreditAccountId',
        'existsWithDifferentAmount',
        'existsWithDifferentUserData',
        'existsWithDifferentLedger',
        'existsWithDifferentCode',
        'exists',
        'exists',
        'existsWithDifferentAmount',
      ],
    );
    assert.equal(m.transfer(10n)?.amount, 10n);
    assert.equal(m.transfer(11n)?.amount, 6n);
    assert.equal(m.pendingStatus(1n), 'posted');
    assert.equal(m.pendingStatus(2n), 'voided');
    assert.deepEqual(balances(m, 1n), [0n, 10n, 0n, 0n]);
    assert.deepEqual(balances(m, 3n), [0n, 0n, 0n, 0n]);
    assert.deepEqual(balances(m, 4n), [0n, 0n, 0n, 0n]);
  });

  it('expires pending transfers at timestamp + timeout, before the batch', () => {
    const m = setup();
    assert.deepEqual(
      m.createTransfers(
        [
          tr(1n, 1n, 2n, 10n, { flags: { pending: true }, timeoutSeconds: 2 }),
          tr(2n, 1n, 2n, 5n, { flags: { pending: true }, timeoutSeconds: 5 }),
          tr(3n, 1n, 2n, 1n, { flags: { pending: true } }),
        ],
        T0,
      ),
      ['ok', 'ok', 'ok'],
    );
    assert.deepEqual(balances(m, 1n), [16n, 0n, 0n, 0n]);
    m.expire(T0 + S); // nothing yet
    assert.deepEqual(balances(m, 1n), [16n, 0n, 0n, 0n]);
    const later = T0 + 2n * S + S / 2n;
    assert.deepEqual(
      m.createTransfers(
        [
          tr(4n, 0n, 0n, 0n, { flags: { postPending: true }, pendingId: 1n }),
          tr(4n, 0n, 0n, 0n, { flags: { postPending: true }, pendingId: 2n }),
          tr(5n, 0n, 0n, 0n, { flags: { voidPending: true }, pendingId: 2n }),
        ],
        later,
      ),
      ['pendingTransferExpired', 'idAlreadyFailed', 'ok'],
    );
    assert.equal(m.pendingStatus(1n), 'expired');
    assert.equal(m.pendingStatus(2n), 'voided');
    m.expire(T0 + 1_000_000n * S); // transfer 3 has no timeout
    assert.equal(m.pendingStatus(3n), 'pending');
    assert.deepEqual(balances(m, 1n), [1n, 0n, 0n, 0n]);
    assert.deepEqual(balances(m, 2n), [0n, 0n, 1n, 0n]);
  });
});

describe('reference model: linked transfer chains', () => {
  it('rolls back the chain, records the failing id only, and skips later events', () => {
    const m = setup([acc(30n, { flags: { debitsMustNotExceedCredits: true } })]);
    const l = { linked: true } as const;
    assert.deepEqual(
      m.createTransfers(
        [
          tr(1n, 1n, 2n, 10n, { flags: l }),
          tr(2n, 2n, 30n, 4n, { flags: { linked: true, pending: true } }),
          tr(3n, 30n, 3n, 5n, { flags: l }),
          tr(4n, 1n, 3n, 1n, { flags: l }),
          tr(5n, 1n, 3n, 1n),
          tr(6n, 1n, 3n, 1n, { flags: l }),
          tr(7n, 1n, 3n, 1n),
          tr(8n, 1n, 4n, 2n, { flags: l }),
          tr(9n, 1n, 4n, 3n, { flags: l }),
        ],
        T0,
      ),
      [
        'linkedEventFailed',
        'linkedEventFailed',
        'exceedsCredits',
        'linkedEventFailed',
        'linkedEventFailed',
        'ok',
        'ok',
        'linkedEventChainOpen',
        'linkedEventChainOpen',
      ],
    );
    assert.deepEqual(m.transferIds(), [6n, 7n]);
    assert.equal(m.isFailed(1n), false);
    assert.equal(m.isFailed(3n), true);
    assert.equal(m.isFailed(4n), false);
    assert.deepEqual(balances(m, 1n), [0n, 2n, 0n, 0n]);
    assert.deepEqual(balances(m, 2n), [0n, 0n, 0n, 0n]);
    assert.deepEqual(balances(m, 30n), [0n, 0n, 0n, 0n]);
    assert.equal(m.pendingStatus(2n), undefined);
    assert.equal(m.transfer(1n), undefined);
    // Rolled-back ids are free: they can be created later.
    assert.deepEqual(m.createTransfers([tr(1n, 1n, 2n, 10n), tr(8n, 1n, 4n, 2n)], T0), [
      'ok',
      'ok',
    ]);
  });

  it('chain events see earlier events of the chain; an exists in a chain fails it', () => {
    const m = setup([acc(30n, { flags: { debitsMustNotExceedCredits: true } })]);
    const l = { linked: true } as const;
    assert.deepEqual(
      m.createTransfers(
        [
          tr(1n, 2n, 30n, 4n, { flags: l }),
          tr(2n, 30n, 3n, 4n, { flags: { linked: true, pending: true } }),
          tr(3n, 0n, 0n, 0n, { flags: { postPending: true }, pendingId: 2n }),
          tr(4n, 1n, 2n, 1n, { flags: l }),
          tr(4n, 1n, 2n, 1n),
        ],
        T0,
      ),
      ['ok', 'ok', 'ok', 'linkedEventFailed', 'exists'],
    );
    assert.deepEqual(balances(m, 30n), [0n, 4n, 0n, 4n]);
    assert.equal(m.transfer(4n), undefined);
    assert.equal(m.pendingStatus(2n), 'posted');
  });

  it('a failed chain with a pending and its post restores the pending state', () => {
    const m = setup();
    m.createTransfers([tr(1n, 1n, 2n, 10n, { flags: { pending: true } })], T0);
    assert.deepEqual(
      m.createTransfers(
        [
          tr(2n, 0n, 0n, 3n, { flags: { linked: true, postPending: true }, pendingId: 1n }),
          tr(3n, 1n, 77n, 1n),
        ],
        T0,
      ),
      ['linkedEventFailed', 'creditAccountNotFound'],
    );
    assert.equal(m.pendingStatus(1n), 'pending');
    assert.deepEqual(balances(m, 1n), [10n, 0n, 0n, 0n]);
    assert.equal(m.isFailed(3n), true);
    assert.equal(m.isFailed(2n), false);
  });
});
