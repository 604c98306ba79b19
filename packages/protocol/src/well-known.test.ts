import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeOf } from './testing.ts';
import {
  decodePriceList,
  formatPriceList,
  parsePriceList,
  type PriceList,
  priceListLengthMax,
  priceListPath,
  priceListRouteCountMax,
} from './well-known.ts';

const list: PriceList = {
  realm: 'news.example',
  merchant: 'mer_1',
  platform: 'https://pay.example',
  currency: 'USD',
  routes: [
    {
      method: 'GET',
      path: '/articles/42',
      price: '0.02',
      description: 'Un article',
      category: 'news',
      accessPeriodSeconds: 86_400,
    },
    { method: 'POST', path: '/api/summarize', price: '0.001', accessPeriodSeconds: 0 },
  ],
};

describe('/.well-known/payment', () => {
  it('writes a price list and reads it back', () => {
    assert.equal(priceListPath, '/.well-known/payment');
    const text = formatPriceList(list);
    assert.deepEqual(JSON.parse(text), list);
    assert.deepEqual(parsePriceList(text), { ok: true, value: list });
    assert.deepEqual(decodePriceList(JSON.parse(text)), { ok: true, value: list });
    assert.throws(() => formatPriceList({ ...list, currency: 'usd' }), RangeError);
  });

  it('names every defect', () => {
    const route = list.routes[0];
    const routes = (count: number): unknown[] =>
      Array.from({ length: count }, (_, index) => ({ ...route, path: `/r/${index}` }));
    const cases: [unknown, string][] = [
      [{ ...list, routes: [route, route] }, 'duplicateEntry'],
      [{ ...list, routes: routes(priceListRouteCountMax + 1) }, 'tooManyEntries'],
      [{ ...list, routes: [{ ...route, price: '0' }] }, 'badAmount'],
      [{ ...list, routes: [{ ...route, method: 'get' }] }, 'badValue'],
      [{ ...list, routes: [{ ...route, path: 'articles' }] }, 'badValue'],
      [{ ...list, routes: [{ ...route, ttl: 5 }] }, 'unknownField'],
      [{ ...list, routes: {} }, 'wrongType'],
      [{ ...list, platform: 'javascript:alert(1)' }, 'badUrl'],
      [{ ...list, currency: 'US' }, 'badCurrency'],
      [(({ realm: _r, ...rest }) => rest)(list), 'missingField'],
    ];
    for (const [input, code] of cases) assert.equal(codeOf(decodePriceList(input)), code);
    assert.equal(codeOf(parsePriceList('{"realm":')), 'badJson');
    assert.equal(codeOf(parsePriceList(' '.repeat(priceListLengthMax + 1))), 'valueTooLong');
    assert.equal(codeOf(parsePriceList(5 as unknown as string)), 'wrongType');
    assert.deepEqual(decodePriceList({ ...list, routes: [route, route] }), {
      ok: false,
      code: 'duplicateEntry',
      detail: 'priceList.routes[1]: a method and path appear twice',
    });
  });
});
