/**
 * The dashboard's arithmetic and checks, without a browser: the earnings report's periods and
 * totals (bigints, whatever the chart draws), the offer form's checks and revenue split, and what
 * is left to refund. The browser test (dashboard-app.test.ts) shows the screens using them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chartData, type EarningsBucket, periodFor, totalsOf } from './apps/dashboard/earnings.ts';
import { basisPointsOf, checkOffer, draftOf, emptyDraft } from './apps/dashboard/offer-form.ts';
import { refundableMicros } from './apps/dashboard/refund-form-checks.ts';
import { ledgerMicrosOf, showMicros, showTotal } from './apps/shared/money.ts';

function bucket(start: string, amounts: Partial<EarningsBucket>): EarningsBucket {
  return {
    start,
    end: start,
    payments: 0,
    gross: '0.00',
    fees: '0.00',
    net: '0.00',
    refunds: 0,
    refunded: '0.00',
    ...amounts,
  };
}

describe('dashboard: earnings', () => {
  it('asks for the last 30 days, 26 Monday weeks or 12 months, ending today (UTC)', () => {
    // A Monday, late in the day: the UTC date, not the local one, decides.
    const nowMs = Date.UTC(2026, 11, 7, 23, 30);
    assert.deepEqual(periodFor('day', nowMs), { from: '2026-11-08', to: '2026-12-07' });
    assert.deepEqual(periodFor('week', nowMs), { from: '2026-06-15', to: '2026-12-07' });
    assert.deepEqual(periodFor('month', nowMs), { from: '2026-01-01', to: '2026-12-07' });
    // A Sunday belongs to the week that began on the Monday before.
    const sundayMs = Date.UTC(2026, 11, 13, 12);
    assert.equal(periodFor('week', sundayMs).from, '2026-06-15');
    assert.equal(periodFor('month', Date.UTC(2026, 1, 10)).from, '2025-03-01');
  });

  it('adds totals as bigints: exact past what a double holds, and below zero', () => {
    const huge = '900719925474099.123457';
    const totals = totalsOf([
      bucket('2026-12-01', { payments: 2, gross: huge, fees: '0.000001', net: huge }),
      bucket('2026-12-02', { payments: 1, gross: '0.000003', net: '-0.5', refunded: '1.25' }),
    ]);
    assert.equal(totals.payments, 3);
    assert.equal(totals.gross, 900_719_925_474_099_123_460n);
    assert.equal(totals.fees, 1n);
    assert.equal(totals.net, 900_719_925_474_098_623_457n);
    assert.equal(showMicros(totals.gross), '$900719925474099.12346');
    assert.equal(showMicros(-1_500_000n), '−$1.50');
    assert.equal(showTotal('-0.000500'), '−$0.0005');
    assert.equal(ledgerMicrosOf('1.2345678'), undefined);
    assert.equal(ledgerMicrosOf('01.5'), undefined);
  });

  it('draws one measure per bucket in dollars, labelled by the bucket', () => {
    const data = chartData('month', [bucket('2026-11-01', { fees: '0.025' })], 'fees');
    assert.deepEqual(data.values, [0.025]);
    assert.match(data.labels[0] ?? '', /2026/);
  });
});

describe('dashboard: offers', () => {
  const filled = {
    ...emptyDraft,
    title: ' Mites in the machine ',
    resource: '/articles/42',
    price: '0.0015',
    accessHours: '24',
  };

  it('sends what it checked: trimmed, the price as the API writes it, hours as seconds', () => {
    const checked = checkOffer(filled);
    assert.ok(checked.ok);
    assert.deepEqual(checked.body, {
      title: 'Mites in the machine',
      resource: '/articles/42',
      price: '0.0015',
      category: 'content',
      accessPeriodSeconds: 86_400,
    });
  });

  it('refuses each bad field before sending, with words for it', () => {
    const checked = checkOffer({
      ...filled,
      title: '',
      price: '0.0000001',
      accessHours: '9000',
      category: 'other',
    });
    assert.ok(!checked.ok);
    assert.deepEqual(Object.keys(checked.errors).sort(), [
      'accessHours',
      'category',
      'price',
      'title',
    ]);
    for (const price of ['0', '-1', '1e3', '0.1234567', '']) {
      assert.ok(!checkOffer({ ...filled, price }).ok, price);
    }
  });

  it('checks a revenue split: shares of at most 2 decimals adding up to 100%, each party once', () => {
    const split = (rows: [string, string][]) =>
      checkOffer({
        ...filled,
        splits: rows.map(([merchantId, percent]) => ({ merchantId, percent })),
      });
    const good = split([
      ['mer_a', '62.5'],
      ['mer_b', '37.5'],
    ]);
    assert.ok(good.ok);
    assert.deepEqual(good.body.splits, [
      { merchantId: 'mer_a', shareBasisPoints: 6250 },
      { merchantId: 'mer_b', shareBasisPoints: 3750 },
    ]);
    const refusals: [string, string][][] = [
      [
        ['mer_a', '60'],
        ['mer_b', '30'],
      ],
      [
        ['mer_a', '50'],
        ['mer_a', '50'],
      ],
      [
        ['mer_a', '100'],
        ['mer_b', '0'],
      ],
      [['', '100']],
      [
        ['mer_a', '99.999'],
        ['mer_b', '0.001'],
      ],
    ];
    for (const rows of refusals) {
      const checked = split(rows);
      assert.ok(!checked.ok && checked.errors.splits !== undefined, JSON.stringify(rows));
    }
    assert.equal(basisPointsOf('100.01'), undefined);
    assert.equal(basisPointsOf('0.01'), 1);
  });

  it('copies a published offer into a draft, its own whole share as no split', () => {
    const offer = {
      offerId: 'off_1',
      resource: '/a',
      title: 'A',
      price: '0.02',
      category: 'goods' as const,
      accessPeriodSeconds: 7200,
      splits: [{ merchantId: 'mer_me', shareBasisPoints: 10_000 }],
      createdAt: '2026-12-07T00:00:00Z',
      archivedAt: null,
    };
    const own = draftOf(offer, 'mer_me');
    assert.deepEqual([own.splits, own.accessHours, own.category], [[], '2', 'goods']);
    const shared = draftOf(
      {
        ...offer,
        splits: [
          { merchantId: 'mer_me', shareBasisPoints: 2550 },
          { merchantId: 'mer_b', shareBasisPoints: 7450 },
        ],
      },
      'mer_me',
    );
    assert.deepEqual(shared.splits, [
      { merchantId: 'mer_me', percent: '25.5' },
      { merchantId: 'mer_b', percent: '74.5' },
    ]);
  });
});

describe('dashboard: refunds', () => {
  it('leaves what was paid less what was refunded, never below zero', () => {
    const payment = { paymentId: 'p', offerTitle: null, resource: null };
    assert.equal(refundableMicros({ ...payment, amount: '0.25', refunded: '0.10' }), 150_000n);
    assert.equal(refundableMicros({ ...payment, amount: '0.25', refunded: '0.25' }), 0n);
    assert.equal(refundableMicros({ ...payment, amount: 'x', refunded: '0' }), 0n);
  });
});
