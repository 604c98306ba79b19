import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackHostname, isSecureOrLoopback, resourceIsOnOrigin } from './transport.ts';

describe('transport security', () => {
  it('takes https anywhere and plain http on the loopback only', () => {
    for (const url of [
      'https://pay.example',
      'http://127.0.0.1:8787',
      'http://127.1.2.3/x',
      'http://127.1/',
      'http://localhost:3000',
      'http://LOCALHOST',
      'http://[::1]:8080',
    ]) {
      assert.equal(isSecureOrLoopback(new URL(url)), true, url);
    }
    for (const url of [
      'http://pay.example',
      'http://10.0.0.1',
      'http://128.0.0.1',
      'http://localhost.example.com',
      'http://127.0.0.1.example.com',
      'http://[::2]',
      'ftp://127.0.0.1',
    ]) {
      assert.equal(isSecureOrLoopback(new URL(url)), false, url);
    }
  });

  it('reads hostnames as URL writes them', () => {
    assert.equal(isLoopbackHostname('::1'), true);
    assert.equal(isLoopbackHostname('0.0.0.0'), false);
  });

  it('takes a resource as the asking origin\u2019s only when it is on that very origin', () => {
    const origin = 'https://news.example';
    for (const resource of [
      '/articles/1',
      'articles/1',
      '/articles/1?page=2',
      'https://news.example/articles/1',
      'HTTPS://NEWS.EXAMPLE:443/articles/1',
    ]) {
      assert.equal(resourceIsOnOrigin(resource, origin), true, resource);
    }
    for (const resource of [
      '//evil.example/articles/1',
      'https://evil.example/articles/1',
      'http://news.example/articles/1',
      'https://news.example:8443/articles/1',
      'https://news.example.evil.example/',
      'javascript:alert(1)',
      'http://[bad',
    ]) {
      assert.equal(resourceIsOnOrigin(resource, origin), false, resource);
    }
    // Same host, another port: another origin, as the browser counts it.
    assert.equal(resourceIsOnOrigin('http://127.0.0.1:8787/x', 'http://127.0.0.1:4000'), false);
  });
});
