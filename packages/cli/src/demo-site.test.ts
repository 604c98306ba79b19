/**
 * The news demo site over real HTTP: browsers get pages with the paywall, programs the 402.
 * (The pages in a browser, paid through the platform: news-site-paywall.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { tempDir } from '@mite/testkit';
import { startDemoSite } from './demo-site.ts';

const platformUrl = 'http://127.0.0.1:8787';
const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

async function site(t: TestContext) {
  const started = await startDemoSite({
    platformUrl,
    merchantId: 'mer_demo',
    host: '127.0.0.1',
    dataDir: tempDir('demo-site-'),
    articles: {
      plain: { title: 'Plain', text: 'Secret text.' },
      'odd-title': { title: '<b>Tom & "Jerry"</b>', text: 'More secret text.', price: '0.10' },
    },
  });
  t.after(() => started.close());
  return started;
}

describe('the news demo site', () => {
  it('gives a browser the article\u2019s page with the paywall, and not the article', async (t) => {
    const { url } = await site(t);
    const page = await fetch(`${url}/articles/plain`, { headers: { accept: browserAccept } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const policy = page.headers.get('content-security-policy') ?? '';
    assert.match(policy, /script-src http:\/\/127\.0\.0\.1:8787(;|$)/);
    assert.match(policy, /connect-src 'self'/);
    assert.match(page.headers.get('vary') ?? '', /Accept/);
    const html = await page.text();
    assert.match(html, /<script type="module" src="http:\/\/127\.0\.0\.1:8787\/paywall\.js">/);
    assert.match(
      html,
      /<mite-paywall platform="http:\/\/127\.0\.0\.1:8787" src="\/articles\/plain">/,
    );
    assert.doesNotMatch(html, /Secret text/);
    const odd = await (
      await fetch(`${url}/articles/odd-title`, { headers: { accept: browserAccept } })
    ).text();
    assert.match(odd, /&#60;b&#62;Tom &#38; &#34;Jerry&#34;&#60;\/b&#62;/);
    assert.doesNotMatch(odd, /<b>Tom/);
  });

  it('answers programs with the 402, whatever they accept, and sells nothing to a page load', async (t) => {
    const { url } = await site(t);
    for (const accept of [undefined, '*/*', 'application/json', 'text/plain']) {
      const response = await fetch(`${url}/articles/plain`, {
        headers: accept === undefined ? {} : { accept },
      });
      assert.equal(response.status, 402, String(accept));
      const challenge = response.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /^Payment /);
      // The article by its full URL: a payment window pays for it only when this site asks.
      const request = /request="([^"]+)"/.exec(challenge)?.[1] ?? '';
      const { methodDetails } = JSON.parse(Buffer.from(request, 'base64url').toString()) as {
        methodDetails: { resource: string };
      };
      assert.equal(methodDetails.resource, `${url}/articles/plain`);
      await response.arrayBuffer();
    }
    // A browser request that carries a credential is the paywall's to judge, not a page load.
    const paying = await fetch(`${url}/articles/plain`, {
      headers: { accept: browserAccept, authorization: 'Payment bm90IGEgY3JlZGVudGlhbA' },
    });
    assert.notEqual(paying.status, 200);
    assert.doesNotMatch(await paying.text(), /Secret text|<mite-paywall/);
    const unknown = await fetch(`${url}/articles/nothing`, { headers: { accept: browserAccept } });
    assert.equal(unknown.status, 404);
    const posted = await fetch(`${url}/articles/plain`, {
      method: 'POST',
      headers: { accept: browserAccept },
    });
    assert.equal(posted.status, 405);
  });

  it('lists the articles as a page for browsers and as text for programs, with its stylesheet', async (t) => {
    const { url } = await site(t);
    const index = await fetch(`${url}/`, { headers: { accept: browserAccept } });
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    const html = await index.text();
    assert.match(html, /<a href="\/articles\/plain">Plain<\/a> \(\$0\.02\)/);
    assert.match(html, /\(\$0\.10\)/);
    const text = await (await fetch(`${url}/`)).text();
    assert.match(text, /\/articles\/odd-title {2}<b>Tom & "Jerry"<\/b> \(0\.10\)/);
    const css = await fetch(`${url}/site.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
  });
});
