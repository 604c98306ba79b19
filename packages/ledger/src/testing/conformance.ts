import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openLedger } from '../open-ledger.ts';
import { type Ledger, type Transfer, U128_MAX } from '../types.ts';

/**
 * One suite that every storage backend must pass. `freshUrl` returns the URL of a new, empty
 * store each time; the same URL may be opened again to test what survives a restart.
 */
export function conformanceSuite(name: string, freshUrl: () => Promise<string | undefined>): void {
  describe(`ledger conformance: ${name}`, () => {
    accountCases(freshUrl);
    transferCases(freshUrl);
    twoPhaseCases(freshUrl);
    linkedCases(freshUrl);
    inputCases(freshUrl);
    concurrencyCases(freshUrl);
    durabilityCases(freshUrl);
  });
}

/** A clock that tests move by hand, in nanoseconds. */
export function manualClock(startNs = 1_700_000_000_000_000_000n) {
  let now = startNs;
  return {
    now: () => now,
    advanceSeconds(seconds: number) {
      now += BigInt(Math.round(seconds * 1e9));
    },
  };
}

type Open = (options?: { clock?: () => bigint }) => Promise<{ ledger: Ledger; url: string }>;

function opener(freshUrl: () => Promise<string | undefined>): Open {
  return async (options = {}) => {
    const url = await freshUrl();
    if (url === undefined) throw new Error('no store available for this backend');
    return { ledger: await openLedger({ url, ...options }), url };
  };
}

/** Runs `body` with a fresh ledger, closing it afterwards whatever happens. */
async function withLedger(
  open: Open,
  body: (ledger: Ledger, url: string) => Promise<void>,
  options: { clock?: () => bigint } = {},
): Promise<void> {
  const { ledger, url } = await open(options);
  try {
    await body(ledger, url);
  } finally {
    await ledger.close();
  }
}

const L = 1;
const C = 1;

function t(
  id: bigint,
  dr: bigint,
  cr: bigint,
  amount: bigint,
  extra: Partial<Transfer> = {},
): Transfer {
  return { id, debitAccountId: dr, creditAccountId: cr, amount, ledger: L, code: C, ...extra };
}

async function balances(ledger: Ledger, id: bigint) {
  const [account] = await ledger.lookupAccounts([id]);
  assert.ok(account, `account ${id} exists`);
  return {
    dp: account.debitsPending,
    dpo: account.debitsPosted,
    cp: account.creditsPending,
    cpo: account.creditsPosted,
  };
}

/** Accounts 1..3 plain on ledger 1, 4 a wallet that cannot go negative, 5 on ledger 2. */
async function seed(ledger: Ledger): Promise<void> {
  const results = await ledger.createAccounts([
    { id: 1n, ledger: L, code: C },
    { id: 2n, ledger: L, code: C },
    { id: 3n, ledger: L, code: C },
    { id: 4n, ledger: L, code: C, flags: { debitsMustNotExceedCredits: true } },
    { id: 5n, ledger: 2, code: C },
    { id: 6n, ledger: L, code: C, flags: { creditsMustNotExceedDebits: true } },
    { id: 7n, ledger: L, code: C, flags: { closed: true } },
  ]);
  assert.deepEqual(results, Array(7).fill('ok'));
}

function accountCases(freshUrl: () => Promise<string | undefined>): void {
  const open = opener(freshUrl);
  it('creates accounts and reports every account result code', () =>
    withLedger(open, async (ledger) => {
      await seed(ledger);
      const results = await ledger.createAccounts([
        { id: 0n, ledger: L, code: C },
        { id: U128_MAX, ledger: L, code: C },
        {
          id: 10n,
          ledger: L,
          code: C,
          flags: { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: true },
        },
        { id: 11n, ledger: 0, code: C },
        { id: 12n, ledger: L, code: 0 },
        { id: 1n, ledger: L, code: C },
        { id: 1n, ledger: L, code: C, flags: { closed: true } },
        { id: 1n, ledger: L, code: C, userData: 9n },
        { id: 1n, ledger: 3, code: C },
        { id: 1n, ledger: L, code: 2 },
      ]);
      assert.deepEqual(results, [
        'idMustNotBeZero',
        'idMustNotBeIntMax',
        'flagsAreMutuallyExclusive',
        'ledgerMustNotBeZero',
        'codeMustNotBeZero',
        'exists',
        'existsWithDifferentFlags',
        'existsWithDifferentUserData',
        'existsWithDifferentLedger',
        'existsWithDifferentCode',
      ]);
      const found = await ledger.lookupAccounts([4n, 99n, 1n]);
      assert.deepEqual(
        found.map((account) => account.id),
        [4n, 1n],
      );
      assert.equal(found[0]?.flags.debitsMustNotExceedCredits, true);
      assert.equal(found[0]?.debitsPosted, 0n);
    }));
}

function transferCases(freshUrl: () => Promise<string | undefined>): void {
  const open = opener(freshUrl);
  it('posts single-phase transfers and reports validation codes in order', () =>
    withLedger(open, async (ledger) => {
      await seed(ledger);
      assert.deepEqual(await ledger.createTransfers([t(100n, 1n, 2n, 50n, { userData: 7n })]), [
        'ok',
      ]);
      assert.deepEqual(await balances(ledger, 1n), { dp: 0n, dpo: 50n, cp: 0n, cpo: 0n });
      assert.deepEqual(await balances(ledger, 2n), { dp: 0n, dpo: 0n, cp: 0n, cpo: 50n });
      const results = await ledger.createTransfers([
        t(0n, 1n, 2n, 1n),
        t(U128_MAX, 1n, 2n, 1n),
        t(101n, 1n, 2n, 1n, { flags: { pending: true, postPending: true } }),
        t(102n, 0n, 2n, 1n),
        t(103n, U128_MAX, 2n, 1n),
        t(104n, 1n, 0n, 1n),
        t(105n, 1n, U128_MAX, 1n),
        t(106n, 1n, 1n, 1n),
        t(107n, 1n, 2n, 1n, { pendingId: 5n }),
        t(108n, 1n, 2n, 1n, { timeoutSeconds: 5 }),
        t(109n, 1n, 2n, 1n, { ledger: 0 }),
        t(110n, 1n, 2n, 1n, { code: 0 }),
        t(111n, 1n, 2n, 0n),
        t(100n, 1n, 2n, 50n, { userData: 7n }),
        t(100n, 1n, 2n, 50n, { userData: 7n, flags: { pending: true } }),
        t(100n, 1n, 3n, 50n, { userData: 7n }),
        t(100n, 3n, 2n, 50n, { userData: 7n }),
        t(100n, 1n, 2n, 51n, { userData: 7n }),
        t(100n, 1n, 2n, 50n, { userData: 8n }),
        t(100n, 1n, 2n, 50n, { userData: 7n, code: 2 }),
        t(112n, 98n, 2n, 1n),
        t(113n, 1n, 98n, 1n),
        t(114n, 1n, 5n, 1n),
        t(115n, 1n, 2n, 1n, { ledger: 2 }),
        t(116n, 1n, 7n, 1n),
        t(117n, 4n, 1n, 1n),
        t(118n, 1n, 6n, 1n),
      ]);
      assert.deepEqual(results, [
        'idMustNotBeZero',
        'idMustNotBeIntMax',
        'flagsAreMutuallyExclusive',
        'debitAccountIdMustNotBeZero',
        'debitAccountIdMustNotBeIntMax',
        'creditAccountIdMustNotBeZero',
        'creditAccountIdMustNotBeIntMax',
        'accountsMustBeDifferent',
        'pendingIdMustBeZero',
        'timeoutReservedForPendingTransfer',
        'ledgerMustNotBeZero',
        'codeMustNotBeZero',
        'amountMustNotBeZero',
        'exists',
        'existsWithDifferentFlags',
        'existsWithDifferentCreditAccountId',
        'existsWithDifferentDebitAccountId',
        'existsWithDifferentAmount',
        'existsWithDifferentUserData',
        'existsWithDifferentCode',
        'debitAccountNotFound',
        'creditAccountNotFound',
        'accountsMustHaveTheSameLedger',
        'transferMustHaveTheSameLedgerAsAccounts',
        'accountClosed',
        'exceedsCredits',
        'exceedsDebits',
      ]);
      assert.deepEqual(await balances(ledger, 1n), { dp: 0n, dpo: 50n, cp: 0n, cpo: 0n });
      const [stored] = await ledger.lookupTransfers([100n]);
      assert.equal(stored?.userData, 7n);
      assert.equal(stored?.amount, 50n);
      assert.deepEqual((await ledger.verify()).problems, []);
    }));

  it('remembers transient failures so a retry never flips the outcome', () =>
    withLedger(open, async (ledger, url) => {
      await seed(ledger);
      assert.deepEqual(await ledger.createTransfers([t(200n, 4n, 1n, 10n)]), ['exceedsCredits']);
      assert.deepEqual(await ledger.createTransfers([t(201n, 1n, 4n, 100n)]), ['ok']);
      assert.deepEqual(await ledger.createTransfers([t(200n, 4n, 1n, 10n)]), ['idAlreadyFailed']);
      assert.deepEqual(await ledger.createTransfers([t(202n, 99n, 1n, 10n)]), [
        'debitAccountNotFound',
      ]);
      await ledger.createAccounts([{ id: 99n, ledger: L, code: C }]);
      assert.deepEqual(await ledger.createTransfers([t(202n, 99n, 1n, 10n)]), ['idAlreadyFailed']);
      // A validation failure depends on the event alone, so it is not remembered.
      assert.deepEqual(await ledger.createTransfers([t(203n, 1n, 2n, 0n)]), [
        'amountMustNotBeZero',
      ]);
      assert.deepEqual(await ledger.createTransfers([t(203n, 1n, 2n, 1n)]), ['ok']);
      await ledger.close();
      const again = await openLedger({ url });
      try {
        assert.deepEqual(await again.createTransfers([t(200n, 4n, 1n, 10n)]), ['idAlreadyFailed']);
        assert.deepEqual(await again.createTransfers([t(203n, 1n, 2n, 1n)]), ['exists']);
      } finally {
        await again.close();
      }
    }));

  it('clamps balancing transfers and detects overflow', () =>
    withLedger(open, async (ledger) => {
      await seed(ledger);
      await ledger.createTransfers([t(300n, 1n, 4n, 30n)]);
      const results = await ledger.createTransfers([
        t(301n, 4n, 2n, 100n, { flags: { balancingDebit: true } }),
        t(302n, 4n, 2n, 0n, { flags: { balancingDebit: true } }),
        t(303n, 2n, 6n, 0n, { flags: { balancingCredit: true } }),
        t(304n, 1n, 3n, U128_MAX - 100n),
        t(305n, 1n, 3n, 200n),
        t(306n, 2n, 3n, 200n),
      ]);
      assert.deepEqual(results, ['ok', 'ok', 'ok', 'ok', 'overflowsDebits', 'overflowsCredits']);
      const [first, second, third] = await ledger.lookupTransfers([301n, 302n, 303n]);
      assert.equal(first?.amount, 30n);
      assert.equal(second?.amount, 0n);
      assert.equal(third?.amount, 0n);
      assert.deepEqual(await balances(ledger, 4n), { dp: 0n, dpo: 30n, cp: 0n, cpo: 30n });
      assert.deepEqual(
        await ledger.createTransfers([t(301n, 4n, 2n, 100n, { flags: { balancingDebit: true } })]),
        ['exists'],
      );
      assert.deepEqual((await ledger.verify()).problems, []);
    }));

  it('lists an account’s transfers by time, filtered and paged', () =>
    withLedger(open, async (ledger) => {
      await seed(ledger);
      await ledger.createTransfers([t(400n, 1n, 2n, 1n), t(401n, 2n, 1n, 2n), t(402n, 1n, 3n, 3n)]);
      const ids = async (filter: Omit<Parameters<Ledger['getAccountTransfers']>[0], 'accountId'>) =>
        (await ledger.getAccountTransfers({ accountId: 1n, ...filter })).map((x) => x.id);
      assert.deepEqual(await ids({ limit: 10 }), [400n, 401n, 402n]);
      assert.deepEqual(await ids({ limit: 10, reversed: true }), [402n, 401n, 400n]);
      assert.deepEqual(await ids({ limit: 2 }), [400n, 401n]);
      assert.deepEqual(await ids({ limit: 10, debits: true }), [400n, 402n]);
      assert.deepEqual(await ids({ limit: 10, credits: true }), [401n]);
      const [, second] = await ledger.lookupTransfers([400n, 401n]);
      assert.ok(second);
      assert.deepEqual(await ids({ limit: 10, timestampMin: second.timestamp }), [401n, 402n]);
      assert.deepEqual(await ids({ limit: 10, timestampMax: second.timestamp }), [400n, 401n]);
    }));
}

function twoPhaseCases(freshUrl: () => Promise<string | undefined>): void {
  const open = opener(freshUrl);
  it('reserves, posts partially, voids, and refuses a second resolution', () =>
    withLedger(open, async (ledger) => {
      await seed(ledger);
      await ledger.createTransfers([t(500n, 1n, 4n, 100n)]);
      const pending = { flags: { pending: true } } as const;
      assert.deepEqual(
        await ledger.createTransfers([
          t(501n, 4n, 2n, 60n, pending),
          t(502n, 4n, 2n, 50n, pending),
        ]),
        ['ok', 'exceedsCredits'],
      );
      assert.deepEqual(await balances(ledger, 4n), { dp: 60n, dpo: 0n, cp: 0n, cpo: 100n });
      const post = (id: bigint, pendingId: bigint, amount: bigint, extra: Partial<Transfer> = {}) =>
        t(id, 0n, 0n, amount, {
          ledger: 0,
          code: 0,
          pendingId,
          flags: { postPending: true },
          ...extra,
        });
      const results = await ledger.createTransfers([
        post(510n, 0n, 1n),
        post(511n, 511n, 1n),
        post(512n, 501n, 1n, { timeoutSeconds: 1 }),
        post(513n, 999n, 1n),
        post(514n, 500n, 1n),
        post(515n, 501n, 1n, { debitAccountId: 3n }),
        post(516n, 501n, 1n, { creditAccountId: 3n }),
        post(517n, 501n, 1n, { ledger: 2 }),
        post(518n, 501n, 1n, { code: 9 }),
        post(519n, 501n, 61n),
        t(520n, 0n, 0n, 7n, { ledger: 0, code: 0, pendingId: 501n, flags: { voidPending: true } }),
        post(521n, 501n, 45n),
        post(522n, 501n, 1n),
        t(523n, 0n, 0n, 0n, { ledger: 0, code: 0, pendingId: 501n, flags: { voidPending: true } }),
      ]);
      assert.deepEqual(results, [
        'pendingIdMustNotBeZero',
        'pendingIdMustBeDifferent',
        'timeoutReservedForPendingTransfer',
        'pendingTransferNotFound',
        'pendingTransferNotPending',
        'pendingTransferHasDifferentDebitAccountId',
        'pendingTransferHasDifferentCreditAccountId',
        'pendingTransferHasDifferentLedger',
        'pendingTransferHasDifferentCode',
        'exceedsPendingTransferAmount',
        'pendingTransferHasDifferentAmount',
        'ok',
        'pendingTransferAlreadyPosted',
        'pendingTransferAlreadyPosted',
      ]);
      assert.deepEqual(await balances(ledger, 4n), { dp: 0n, dpo: 45n, cp: 0n, cpo: 100n });
      const [posted] = await ledger.lookupTransfers([521n]);
      assert.equal(posted?.amount, 45n);
      assert.equal(posted?.debitAccountId, 4n);
      assert.deepEqual(await ledger.createTransfers([post(521n, 501n, 45n)]), ['exists']);
      assert.deepEqual(await ledger.createTransfers([post(521n, 501n, 44n)]), [
        'existsWithDifferentAmount',
      ]);
      await ledger.createTransfers([t(530n, 4n, 2n, 10n, pending)]);
      const voided = t(531n, 0n, 0n, 0n, {
        ledger: 0,
        code: 0,
        pendingId: 530n,
        flags: { voidPending: true },
      });
      assert.deepEqual(await ledger.createTransfers([voided, post(532n, 530n, 0n)]), [
        'ok',
        'pendingTransferAlreadyVoided',
      ]);
      await ledger.createTransfers([t(540n, 4n, 2n, 10n, pending)]);
      assert.deepEqual(await ledger.createTransfers([post(541n, 540n, 0n)]), ['ok']);
      assert.deepEqual(await balances(ledger, 4n), { dp: 0n, dpo: 55n, cp: 0n, cpo: 100n });
      assert.deepEqual((await ledger.verify()).problems, []);
    }));

  it('expires pending transfers on the engine clock, also across a restart', async () => {
    const clock = manualClock();
    await withLedger(
      open,
      async (ledger, url) => {
        await seed(ledger);
        const results = await ledger.createTransfers([
          t(600n, 1n, 2n, 10n, { flags: { pending: true }, timeoutSeconds: 10 }),
          t(601n, 1n, 2n, 20n, { flags: { pending: true }, timeoutSeconds: 100 }),
          t(602n, 1n, 2n, 30n, { flags: { pending: true } }),
        ]);
        assert.deepEqual(results, ['ok', 'ok', 'ok']);
        clock.advanceSeconds(10.5);
        const post = { ledger: 0, code: 0, flags: { postPending: true } } as const;
        assert.deepEqual(
          await ledger.createTransfers([t(603n, 0n, 0n, 0n, { ...post, pendingId: 600n })]),
          ['pendingTransferExpired'],
        );
        assert.deepEqual(await balances(ledger, 1n), { dp: 50n, dpo: 0n, cp: 0n, cpo: 0n });
        await ledger.close();
        clock.advanceSeconds(100);
        const again = await openLedger({ url, clock: clock.now });
        try {
          assert.deepEqual(
            await again.createTransfers([t(604n, 0n, 0n, 0n, { ...post, pendingId: 601n })]),
            ['pendingTransferExpired'],
          );
          assert.deepEqual(
            await again.createTransfers([t(605n, 0n, 0n, 0n, { ...post, pendingId: 602n })]),
            ['ok'],
          );
          assert.deepEqual(await balances(again, 1n), { dp: 0n, dpo: 30n, cp: 0n, cpo: 0n });
          assert.deepEqual((await again.verify()).problems, []);
        } finally {
          await again.close();
        }
      },
      { clock: clock.now },
    );
  });

  it('expires pending transfers when idle, on a timer', () =>
    withLedger(open, async (ledger) => {
      await seed(ledger);
      await ledger.createTransfers([
        t(700n, 1n, 2n, 10n, { flags: { pending: true }, timeoutSeconds: 1 }),
      ]);
      assert.deepEqual(await balances(ledger, 1n), { dp: 10n, dpo: 0n, cp: 0n, cpo: 0n });
      const deadline = Date.now() + 5_000;
      while ((await balances(ledger, 1n)).dp !== 0n && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(await balances(ledger, 1n), { dp: 0n, dpo: 0n, cp: 0n, cpo: 0n });
    }));
}

function linkedCases(freshUrl: () => Promise<string | undefined>): void {
  const open = opener(freshUrl);
  it('applies a linked chain all or nothing', () =>
    withLedger(open, async (ledger) => {
      await seed(ledger);
      const linked = { flags: { linked: true } } as const;
      const results = await ledger.createTransfers([
        t(800n, 1n, 2n, 5n, linked),
        t(801n, 1n, 3n, 5n, linked),
        t(802n, 4n, 1n, 5n),
        t(803n, 1n, 2n, 1n),
        t(804n, 1n, 2n, 1n, linked),
        t(804n, 1n, 2n, 1n),
        t(805n, 1n, 2n, 1n, linked),
        t(806n, 1n, 2n, 1n, linked),
      ]);
      assert.deepEqual(results, [
        'linkedEventFailed',
        'linkedEventFailed',
        'exceedsCredits',
        'ok',
        'linkedEventFailed',
        'exists',
        'linkedEventChainOpen',
        'linkedEventChainOpen',
      ]);
      assert.deepEqual(await balances(ledger, 1n), { dp: 0n, dpo: 1n, cp: 0n, cpo: 0n });
      assert.deepEqual(await ledger.lookupTransfers([800n, 801n, 804n, 805n]), []);
      assert.deepEqual(await ledger.createTransfers([t(800n, 1n, 2n, 5n)]), ['ok']);
      const accounts = await ledger.createAccounts([
        { id: 20n, ledger: L, code: C, flags: { linked: true } },
        { id: 21n, ledger: 0, code: C },
      ]);
      assert.deepEqual(accounts, ['linkedEventFailed', 'ledgerMustNotBeZero']);
      assert.deepEqual(await ledger.lookupAccounts([20n]), []);
      assert.deepEqual((await ledger.verify()).problems, []);
    }));
}

function inputCases(freshUrl: () => Promise<string | undefined>): void {
  const open = opener(freshUrl);
  it('rejects malformed input as a whole and changes nothing', () =>
    withLedger(open, async (ledger) => {
      await seed(ledger);
      const bad: unknown[] = [
        'not an array',
        [null],
        [{ ...t(900n, 1n, 2n, 1n), amount: -1n }],
        [{ ...t(900n, 1n, 2n, 1n), amount: U128_MAX + 1n }],
        [{ ...t(900n, 1n, 2n, 1n), id: 5 }],
        [{ ...t(900n, 1n, 2n, 1n), ledger: 1.5 }],
        [{ ...t(900n, 1n, 2n, 1n), code: -1 }],
        [{ ...t(900n, 1n, 2n, 1n), flags: { pending: 'yes' } }],
        [{ ...t(900n, 1n, 2n, 1n), flags: { sideways: true } }],
        [{ ...t(900n, 1n, 2n, 1n), colour: 'red' }],
        [t(901n, 1n, 2n, 1n), { ...t(902n, 1n, 2n, 1n), amount: 1 }],
        Array.from({ length: 8191 }, (_, i) => t(1000n + BigInt(i), 1n, 2n, 1n)),
      ];
      for (const input of bad) {
        await assert.rejects(
          ledger.createTransfers(input as Transfer[]),
          (error: Error) => error.name === 'LedgerInputError' && error.message.length > 0,
        );
      }
      await assert.rejects(ledger.createAccounts([{ id: -1n, ledger: 1, code: 1 }]), {
        name: 'LedgerInputError',
      });
      await assert.rejects(ledger.lookupAccounts([1n, -2n]), { name: 'LedgerInputError' });
      await assert.rejects(ledger.getAccountTransfers({ accountId: 1n, limit: 0 }), {
        name: 'LedgerInputError',
      });
      assert.deepEqual(await balances(ledger, 1n), { dp: 0n, dpo: 0n, cp: 0n, cpo: 0n });
      assert.deepEqual(await ledger.lookupTransfers([900n, 901n, 902n, 1000n]), []);
      assert.deepEqual((await ledger.verify()).problems, []);
    }));
}

function concurrencyCases(freshUrl: () => Promise<string | undefined>): void {
  const open = opener(freshUrl);
  it('never lets a wallet go below its limit under concurrent spending', () =>
    withLedger(open, async (ledger) => {
      await seed(ledger);
      await ledger.createTransfers([t(1n, 1n, 4n, 100n)]);
      const attempts = Array.from({ length: 300 }, (_, i) =>
        ledger.createTransfers([t(10_000n + BigInt(i), 4n, 2n, 1n)]),
      );
      const results = (await Promise.all(attempts)).flat();
      assert.equal(results.filter((r) => r === 'ok').length, 100);
      assert.equal(results.filter((r) => r === 'exceedsCredits').length, 200);
      assert.deepEqual(await balances(ledger, 4n), { dp: 0n, dpo: 100n, cp: 0n, cpo: 100n });
      assert.deepEqual((await ledger.verify()).problems, []);
    }));

  it('creates a transfer once when the same id arrives concurrently', () =>
    withLedger(open, async (ledger) => {
      await seed(ledger);
      const attempts = Array.from({ length: 100 }, () =>
        ledger.createTransfers([t(20_000n, 1n, 2n, 3n)]),
      );
      const results = (await Promise.all(attempts)).flat();
      assert.equal(results.filter((r) => r === 'ok').length, 1);
      assert.equal(results.filter((r) => r === 'exists').length, 99);
      assert.deepEqual(await balances(ledger, 2n), { dp: 0n, dpo: 0n, cp: 0n, cpo: 3n });
    }));

  // A webhook delivered three times at once books the same chain three times, each call a turn
  // after the one before: each lands in its own batch, while the one before is still written.
  it('creates a linked chain once when the same ids arrive in overlapping batches', () =>
    withLedger(open, async (ledger) => {
      await seed(ledger);
      for (let round = 0n; round < overlapRounds; round++) {
        const id = 30_000n + 2n * round;
        const chain = [t(id, 1n, 2n, 5n, { flags: { linked: true } }), t(id + 1n, 2n, 3n, 1n)];
        const calls: Promise<string[]>[] = [];
        for (let call = 0; call < 3; call++) {
          calls.push(ledger.createTransfers(chain));
          await new Promise((resolve) => setImmediate(resolve));
        }
        const results = await Promise.all(calls);
        assert.deepEqual(results, [
          ['ok', 'ok'],
          ['exists', 'linkedEventFailed'],
          ['exists', 'linkedEventFailed'],
        ]);
      }
      const booked = overlapRounds * 5n;
      assert.deepEqual(await balances(ledger, 2n), {
        dp: 0n,
        dpo: overlapRounds,
        cp: 0n,
        cpo: booked,
      });
      assert.deepEqual((await ledger.verify()).problems, []);
    }));
}

/** Rounds of the overlapping-batches case: before the fix, PostgreSQL failed within a few. */
const overlapRounds = 100n;

function durabilityCases(freshUrl: () => Promise<string | undefined>): void {
  const open = opener(freshUrl);
  it('keeps everything across close and reopen, and never has two writers', async () => {
    const { ledger, url } = await open();
    await seed(ledger);
    await ledger.createTransfers([t(1100n, 1n, 2n, U128_MAX - 1n, { userData: U128_MAX - 2n })]);
    if (url.startsWith('sqlite:')) {
      // One process per SQLite file.
      await assert.rejects(openLedger({ url }), /open/);
    } else {
      // A second PostgreSQL node forwards its writes to the first, which applies them.
      const second = await openLedger({ url });
      try {
        assert.deepEqual(await second.createTransfers([t(1099n, 1n, 2n, 1n)]), ['ok']);
        assert.deepEqual(await second.createTransfers([t(1099n, 1n, 2n, 1n)]), ['exists']);
        assert.equal((await ledger.lookupTransfers([1099n]))[0]?.amount, 1n);
        assert.deepEqual(
          await second.lookupAccounts([1n, 2n]),
          await ledger.lookupAccounts([1n, 2n]),
        );
      } finally {
        await second.close();
      }
    }
    const before = await ledger.lookupAccounts([1n, 2n]);
    await ledger.close();
    await ledger.close();
    await assert.rejects(ledger.createTransfers([t(1101n, 1n, 2n, 1n)]), /closed/);
    const again = await openLedger({ url });
    try {
      assert.deepEqual(await again.lookupAccounts([1n, 2n]), before);
      const [stored] = await again.lookupTransfers([1100n]);
      assert.equal(stored?.amount, U128_MAX - 1n);
      assert.equal(stored?.userData, U128_MAX - 2n);
      assert.deepEqual(await again.verify(), { ok: true, problems: [] });
    } finally {
      await again.close();
    }
  });
}
