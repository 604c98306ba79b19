import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRouteTable, pathSegments, urlPathSegments } from './routes.ts';

const table = createRouteTable([
  { method: 'GET', path: '/articles/:id', price: '0.02' },
  { method: 'GET', path: '/files/*', price: '0.01' },
  { method: 'POST', path: '/render', price: () => '0.5' },
]);

function matched(method: string, path: string): string | undefined {
  const match = table.match(method, path);
  return match === undefined ? undefined : `${match.route.path} ${JSON.stringify(match.params)}`;
}

describe('route matching', () => {
  it('matches literal segments, parameters and a final wildcard', () => {
    assert.equal(matched('GET', '/articles/42'), '/articles/:id {"id":"42"}');
    assert.equal(matched('GET', '/files/a/b.txt'), '/files/* {"*":"a/b.txt"}');
    assert.equal(matched('GET', '/files'), '/files/* {"*":""}');
    assert.equal(matched('GET', '/articles'), undefined);
    assert.equal(matched('GET', '/articles/42/comments'), undefined);
    assert.equal(matched('POST', '/articles/42'), undefined);
  });

  it('prices HEAD like GET, since frameworks answer HEAD with the GET handler', () => {
    assert.equal(matched('HEAD', '/articles/42'), '/articles/:id {"id":"42"}');
    assert.equal(matched('head', '/articles/42'), '/articles/:id {"id":"42"}');
  });

  it('cannot be dodged by spellings a router may treat as the same path', () => {
    for (const path of [
      '/Articles/42',
      '/articles/42/',
      '//articles//42',
      '/x/../articles/42',
      '/x/%2e%2e/articles/42',
      '/./articles/42',
      '/%61rticles/42',
      '\\articles\\42',
    ]) {
      assert.equal(matched('GET', path), '/articles/:id {"id":"42"}', path);
    }
    assert.deepEqual(pathSegments('/a/%2F/b'), ['a', '%2F', 'b']);
  });

  it('splits plain paths without URL parsing into exactly what URL parsing gives', () => {
    const alphabet = ['a', 'B', '0', '/', '/', '.', '..', '%', '%2e', '%41', '\\', '-', '_', '~'];
    alphabet.push(...`!$&'()*+,;=:@#?"<>^\`{}| `.split(''), '\u00e9', '\u0000', '\t', '\u007f');
    const plain = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
    let seed = 42;
    const next = (limit: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % limit;
    };
    let plainCount = 0;
    for (let index = 0; index < 20_000; index += 1) {
      const length = 1 + next(12);
      let path = next(4) === 0 ? '' : '/';
      for (let at = 0; at < length; at += 1) path += alphabet[next(alphabet.length)] ?? '';
      if (plain.test(path)) plainCount += 1;
      assert.deepEqual(pathSegments(path), urlPathSegments(path), JSON.stringify(path));
    }
    assert.ok(plainCount > 1000, `${plainCount} plain paths tried`);
    for (const path of [
      '',
      '/',
      '.',
      '..',
      '/a/./b',
      '/a/../b',
      '/.a/b..',
      '/...',
      'a/b',
      '/a:b@c',
    ]) {
      assert.deepEqual(pathSegments(path), urlPathSegments(path), JSON.stringify(path));
    }
  });

  it('lists function prices as they are for a plain request', () => {
    assert.deepEqual(
      table.list().map((route) => route.price),
      ['0.02', '0.01', '0.50'],
    );
  });

  it('lets a price function say "not priced", and leaves such a route out of the price list', () => {
    const known = new Set(['mites']);
    const table = createRouteTable([
      {
        method: 'GET',
        path: '/articles/:slug',
        price: ({ params }) => (known.has(params.slug ?? '') ? '0.02' : undefined),
      },
      { method: 'GET', path: '/maybe', price: () => null },
    ]);
    const request = (path: string, params: Record<string, string>) => ({
      method: 'GET',
      url: path,
      path,
      headers: {},
      params,
    });
    const article = table.match('GET', '/articles/mites');
    const unknown = table.match('GET', '/articles/nothing-here');
    const maybe = table.match('GET', '/maybe');
    assert.ok(article !== undefined && unknown !== undefined && maybe !== undefined);
    assert.equal(table.priceOf(article, request('/articles/mites', article.params)), '0.02');
    assert.equal(
      table.priceOf(unknown, request('/articles/nothing-here', unknown.params)),
      undefined,
    );
    assert.equal(table.priceOf(maybe, request('/maybe', {})), undefined);
    assert.deepEqual(table.list(), []);
  });

  it('throws on a price function that answers what the wire cannot carry', () => {
    const broken = createRouteTable([{ method: 'GET', path: '/x', price: () => 'free' }]);
    const match = broken.match('GET', '/x');
    assert.ok(match !== undefined);
    assert.throws(
      () =>
        broken.priceOf(match, { method: 'GET', url: '/x', path: '/x', headers: {}, params: {} }),
      RangeError,
    );
  });
});
