/**
 * The tip jar's page: the piece of work, the preset amounts as radio buttons, and one
 * `<mite-paywall>` for the chosen amount. The jar's script (served by the jar itself) puts a new
 * element, under a fresh order, in place of the old one when the visitor picks another amount, so
 * that each tip is a purchase of its own; the element shows the jar's thanks once paid.
 */
import { randomBytes } from 'node:crypto';
import { escapeHtml, type SitePage } from './demo-site-kit.ts';
import type { Creators, Tip } from './demo-tip-jar.ts';

export const tipJarStylesheetPath = '/jar.css';
export const tipJarScriptPath = '/jar.js';

const siteName = 'The Night Ferry';

export const tipJarStylesheet = `body{font:17px/1.6 Georgia,serif;margin:0;color:#1d1b26;background:#f6f1e7}
header{padding:1rem 1.5rem;border-bottom:1px solid #b9ad97}
header a{color:#1d1b26;font-weight:700;font-size:1.3rem;text-decoration:none}
main{max-width:40rem;margin:0 auto;padding:1rem 1.5rem 3rem}
.byline{font-style:italic}
.jar{background:#fff;border:1px solid #b9ad97;border-radius:10px;padding:.5rem 1.25rem 1.25rem;margin-top:2rem}
fieldset{border:0;padding:0;margin:0 0 1rem;display:flex;gap:1rem;flex-wrap:wrap}
legend{font-weight:700;margin-bottom:.5rem}
label{display:inline-flex;align-items:center;gap:.35rem;min-height:44px;padding:0 .75rem;border:1px solid #767676;border-radius:6px;cursor:pointer}
.demo-note{font:14px/1.4 system-ui,sans-serif;color:#4a4a4a}
`;

/** Plain browser JavaScript: a new paywall, under a new order, for the amount chosen. */
export const tipJarScript = `const holder = document.getElementById('tip-paywall');

function newOrder() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function offer(amount) {
  const old = holder.querySelector('mite-paywall');
  const next = document.createElement('mite-paywall');
  next.setAttribute('platform', old.getAttribute('platform'));
  next.setAttribute('src', '/tip/' + amount + '?order=' + newOrder());
  next.setAttribute('label', 'A $' + amount + ' tip');
  next.setAttribute('price', '$' + amount);
  old.replaceWith(next);
}

for (const choice of document.querySelectorAll('input[name="amount"]')) {
  choice.addEventListener('change', () => offer(choice.value));
}
`;

function order(): string {
  return randomBytes(16).toString('hex');
}

/** The work, the amounts, and the paywall for the amount chosen first (the middle one). */
export function tipJarPage(
  tips: readonly Tip[],
  creators: Creators,
  platformUrl: string,
): SitePage {
  const chosen = tips[Math.floor(tips.length / 2)];
  const choices = tips
    .map(
      (tip) =>
        `<label><input type="radio" name="amount" value="${escapeHtml(tip.amount)}"` +
        `${tip === chosen ? ' checked' : ''}> $${escapeHtml(tip.amount)}</label>`,
    )
    .join('\n');
  const percent = creators.coCreatorShareBasisPoints / 100;
  const paywall =
    chosen === undefined
      ? '<p>No tips are on offer.</p>'
      : `<mite-paywall platform="${escapeHtml(platformUrl)}" src="/tip/${escapeHtml(chosen.amount)}?order=${order()}" label="A $${escapeHtml(chosen.amount)} tip" price="$${escapeHtml(chosen.amount)}"></mite-paywall>`;
  return {
    siteName,
    title: `${siteName} (demo)`,
    platformUrl,
    stylesheetPath: tipJarStylesheetPath,
    scriptPath: tipJarScriptPath,
    body: `<article><h1>${siteName}</h1>
<p class="byline">A short comic by ${escapeHtml(creators.seller)} (story) and ${escapeHtml(creators.coCreator)} (drawings).</p>
<p>The last ferry leaves at midnight. Nobody on board has a ticket, and the ferryman takes no coins, only stories: one each, told before the far shore.</p>
<p>Free to read. If it was worth a few cents to you, the jar below pays both of us.</p></article>
<section class="jar" aria-labelledby="tip-heading">
<h2 id="tip-heading">Leave a tip</h2>
<p>Every tip is shared: ${100 - percent}% to ${escapeHtml(creators.seller)}, ${percent}% to ${escapeHtml(creators.coCreator)}, after the platform's fee.</p>
<fieldset><legend>Choose an amount</legend>
${choices}
</fieldset>
<div id="tip-paywall">${paywall}</div>
</section>
<p class="demo-note">A demo site: tips are paid from a Mite wallet through the platform at ${escapeHtml(platformUrl)}.</p>`,
  };
}
