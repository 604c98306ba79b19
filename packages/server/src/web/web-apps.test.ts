import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { tempDir } from '@mite/testkit';
import { platformFor } from '../platform-testing.ts';
import { paywallScriptHeaders, payWindowHeaders, webAppSecurityHeaders } from './web-apps.ts';

/**
 * A stand-in for packages/web/dist: the wallet's, the dashboard's and the console's pages, the
 * payment window, the paywall's script, a hashed script and its source map.
 */
function fakeBuild(): string {
  const root = tempDir('mite-web-build-');
  mkdirSync(path.join(root, 'wallet', 'login'), { recursive: true });
  mkdirSync(path.join(root, 'assets'), { recursive: true });
  writeFileSync(path.join(root, 'wallet', 'index.html'), '<!doctype html><title>Wallet</title>');
  writeFileSync(
    path.join(root, 'wallet', 'login', 'index.html'),
    '<!doctype html><title>In</title>',
  );
  mkdirSync(path.join(root, 'pay', 'session'), { recursive: true });
  writeFileSync(path.join(root, 'pay', 'index.html'), '<!doctype html><title>Pay</title>');
  writeFileSync(
    path.join(root, 'pay', 'session', 'index.html'),
    '<!doctype html><title>Pay by the second</title>',
  );
  mkdirSync(path.join(root, 'dashboard'), { recursive: true });
  writeFileSync(path.join(root, 'dashboard', 'index.html'), '<!doctype html><title>Sales</title>');
  mkdirSync(path.join(root, 'console', 'login'), { recursive: true });
  writeFileSync(path.join(root, 'console', 'index.html'), '<!doctype html><title>Console</title>');
  writeFileSync(
    path.join(root, 'console', 'login', 'index.html'),
    '<!doctype html><title>Console log-in</title>',
  );
  writeFileSync(path.join(root, 'paywall.js'), 'void 0;');
  writeFileSync(path.join(root, 'meter.js'), 'void 1;');
  writeFileSync(path.join(root, 'assets', 'app-abc123.js'), 'export {};');
  writeFileSync(path.join(root, 'assets', 'app-abc123.js.map'), '{}');
  return root;
}

async function served(t: TestContext, webRoot: string | undefined) {
  const platform = await platformFor(t, 'sqlite', webRoot === undefined ? {} : { webRoot });
  const base = await platform.app.listen({ port: 0, host: '127.0.0.1' });
  const get = (pathname: string) => fetch(`${base}${pathname}`, { redirect: 'manual' });
  return { platform, get };
}

describe('web apps', () => {
  it('serves the build under one origin with a strict policy, hashed files cached for good', async (t) => {
    const { platform, get } = await served(t, fakeBuild());
    assert.equal(platform.webAppsServed, true);
    for (const pathname of [
      '/wallet/',
      '/wallet/login/',
      '/dashboard/',
      '/console/',
      '/console/login/',
    ]) {
      const page = await get(pathname);
      assert.equal(page.status, 200, pathname);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(page.headers.get('cache-control'), 'no-cache');
      for (const [name, value] of Object.entries(webAppSecurityHeaders)) {
        assert.equal(page.headers.get(name), value, `${pathname} ${name}`);
      }
    }
    const policy = webAppSecurityHeaders['content-security-policy'] ?? '';
    assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval|https?:|\*/);
    const script = await get('/assets/app-abc123.js');
    assert.equal(script.status, 200);
    assert.match(script.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await get('/assets/app-abc123.js.map')).status, 404, 'source maps stay');
    assert.equal((await get('/assets/%2e%2e/%2e%2e/etc/passwd')).status, 404);
    const bare = await get('/wallet');
    assert.deepEqual([bare.status, bare.headers.get('location')], [301, '/wallet/']);
    const dashboard = await get('/dashboard');
    assert.deepEqual([dashboard.status, dashboard.headers.get('location')], [301, '/dashboard/']);
    const root = await get('/');
    assert.deepEqual([root.status, root.headers.get('location')], [302, '/wallet/']);
    // The API is as it was, and its document lists no page.
    assert.equal((await get('/healthz')).status, 200);
    const document = (await (await get('/v1/openapi.json')).json()) as { paths: object };
    const pages = Object.keys(document.paths).filter((key) => !/^\/(v1\/|healthz)/.test(key));
    assert.deepEqual(pages, []);
  });

  it('serves the paywall\u2019s and the meter\u2019s scripts to any origin, and the payment windows to their openers', async (t) => {
    const { get } = await served(t, fakeBuild());
    for (const [file, text] of [
      ['/paywall.js', 'void 0;'],
      ['/meter.js', 'void 1;'],
    ] as const) {
      const script = await get(file);
      assert.equal(script.status, 200);
      assert.equal(await script.text(), text);
      assert.match(script.headers.get('content-type') ?? '', /javascript/);
      assert.equal(script.headers.get('cache-control'), 'no-cache', 'a stable URL, revalidated');
      assert.equal(script.headers.get('access-control-allow-origin'), '*');
      assert.equal(script.headers.get('cross-origin-resource-policy'), 'cross-origin');
      assert.equal(
        script.headers.get('content-security-policy'),
        webAppSecurityHeaders['content-security-policy'],
      );
    }
    assert.deepEqual(
      Object.keys(paywallScriptHeaders).filter(
        (name) => paywallScriptHeaders[name] !== webAppSecurityHeaders[name],
      ),
      ['cross-origin-resource-policy', 'access-control-allow-origin'],
    );
    const window = await get('/pay/?origin=https%3A%2F%2Fnews.example');
    assert.equal(window.status, 200);
    assert.equal(window.headers.get('cross-origin-opener-policy'), 'unsafe-none');
    const sessionWindow = await get('/pay/session/?origin=https%3A%2F%2Fradio.example');
    assert.equal(sessionWindow.headers.get('cross-origin-opener-policy'), 'unsafe-none');
    // Only the opener link differs: the window still refuses to be framed.
    assert.match(window.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.deepEqual(
      Object.keys(payWindowHeaders).filter(
        (name) => payWindowHeaders[name] !== webAppSecurityHeaders[name],
      ),
      ['cross-origin-opener-policy'],
    );
    const wallet = await get('/wallet/');
    assert.equal(wallet.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(wallet.headers.get('access-control-allow-origin'), null);
  });

  it('without a build, says how to make one and runs the API as before', async (t) => {
    const { platform, get } = await served(t, tempDir('mite-web-empty-'));
    assert.equal(platform.webAppsServed, false);
    const page = await get('/wallet/login/');
    assert.equal(page.status, 503);
    assert.match(await page.text(), /npm run build/);
    assert.equal((await get('/healthz')).status, 200);
  });

  it('without a web root at all, does the same', async (t) => {
    const { platform, get } = await served(t, undefined);
    assert.equal(platform.webAppsServed, false);
    assert.equal((await get('/wallet/')).status, 503);
  });
});
