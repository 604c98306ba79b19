/**
 * The pages' shared fragments: a wallet page's header is written once, and every wallet page
 * that shows a navigation shows the same one.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pageEntries, sharedFragmentsPlugin, webSourceDir } from './build.ts';

function transform(html: string): string {
  const hook = sharedFragmentsPlugin().transformIndexHtml as (html: string) => string;
  return hook(html);
}

describe('shared fragments', () => {
  it('puts the wallet header where a page asks for it, and refuses an unknown fragment', () => {
    const header = readFileSync(path.join(webSourceDir, 'wallet', 'wallet-header.html'), 'utf8');
    assert.equal(
      transform('<body>\n    <!-- mite:wallet-header -->\n</body>'),
      `<body>\n${header}</body>`,
    );
    assert.throws(() => transform('<!-- mite:no-such-part -->'), /unknown fragment: no-such-part/);
  });

  it('gives every wallet page with a navigation the one header', () => {
    const wallet = Object.entries(pageEntries()).filter(([name]) => name.startsWith('wallet'));
    const withNav = wallet.filter(([, file]) => {
      const html = readFileSync(file, 'utf8');
      assert.doesNotMatch(html, /<nav/, `${file} writes its own navigation`);
      return html.includes('<!-- mite:wallet-header -->');
    });
    assert.ok(withNav.length >= 7, `${withNav.length} wallet pages share the header`);
  });
});
