/**
 * The game shop's page: the player's inventory (as the shop's verified receipts say, see
 * demo-game-inventory.ts) and a `<mite-paywall>` for each item and gem pack, each under a fresh
 * order. The shop's script (served by the shop: the page's policy allows scripts from the shop
 * and the platform only) takes each purchase's answer from the element's `mite-paid` event, shows
 * the inventory it returns and puts a new element, with a new order, in place of the spent one, so
 * that a second click is a second purchase.
 */
import { randomBytes } from 'node:crypto';
import type { Owned, ShopItem } from './demo-game-inventory.ts';
import { escapeHtml, type SitePage } from './demo-site-kit.ts';

export const gameShopStylesheetPath = '/shop.css';
export const gameShopScriptPath = '/shop.js';

const siteName = 'Pixel Armoury';

export const gameShopStylesheet = `body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#f4f4f6;background:#161821}
header{background:#232635;padding:1rem 1.5rem;border-bottom:3px solid #ffd166}
header a{color:#ffd166;font-weight:800;font-size:1.4rem;text-decoration:none;letter-spacing:.04em}
main{max-width:56rem;margin:0 auto;padding:1rem 1.5rem 3rem}
a{color:#9ecbff}
.inventory{background:#232635;border-radius:8px;padding:.5rem 1rem 1rem;margin-bottom:1.5rem}
.inventory h2{margin-top:.5rem}
.shelf{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:1rem}
.card{background:#232635;border-radius:8px;padding:1rem}
.card h3{margin:0 0 .5rem}
.card p{margin:0 0 .75rem}
.demo-note{font-size:14px;color:#c9c9d1}
`;

/**
 * Plain browser JavaScript (the CLI is not built for the browser): after a purchase it shows the
 * inventory the shop answered and sells the next one under a new order. The spent credential is
 * dropped from the element's storage: a single-use receipt opens nothing again.
 */
export const gameShopScript = `const status = document.getElementById('shop-status');
const gems = document.getElementById('gems-count');
const owned = document.getElementById('owned');

function newOrder() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function showOwned(inventory) {
  gems.textContent = String(inventory.gems);
  const rows = inventory.items.map((item) => {
    const row = document.createElement('li');
    row.textContent = item.title + ' \\u00d7 ' + item.count;
    return row;
  });
  if (rows.length === 0) {
    const none = document.createElement('li');
    none.textContent = 'No gear yet';
    rows.push(none);
  }
  owned.replaceChildren(...rows);
}

function sell(paywall) {
  paywall.addEventListener('mite-paid', (event) => {
    let bought;
    try {
      bought = JSON.parse(event.detail.text);
    } catch {
      return;
    }
    event.preventDefault();
    showOwned(bought.owned);
    // Each purchase says something new, so that a screen reader announces the second one too.
    status.textContent =
      'Bought ' + bought.bought + '. You have ' + bought.owned.gems + ' gems.';
    const src = new URL(paywall.getAttribute('src'), location.href);
    try {
      localStorage.removeItem('mite-paywall:' + src.href);
    } catch {
      // No storage: nothing was kept.
    }
    src.searchParams.set('order', newOrder());
    const next = document.createElement('mite-paywall');
    for (const name of ['platform', 'label', 'price']) {
      const value = paywall.getAttribute(name);
      if (value !== null) next.setAttribute(name, value);
    }
    next.setAttribute('src', src.pathname + src.search);
    sell(next);
    paywall.replaceWith(next);
  });
}

for (const paywall of document.querySelectorAll('mite-paywall')) sell(paywall);
`;

function order(): string {
  return randomBytes(16).toString('hex');
}

function card(item: ShopItem, platformUrl: string): string {
  const what =
    item.gems === undefined ? 'Gear for your hero, yours to keep.' : `${item.gems} gems to spend.`;
  return `<li class="card"><h3>${escapeHtml(item.title)}</h3><p>${escapeHtml(what)}</p>
<mite-paywall platform="${escapeHtml(platformUrl)}" src="/buy/${encodeURIComponent(item.slug)}?order=${order()}" label="${escapeHtml(item.title)}" price="$${escapeHtml(item.price)}"></mite-paywall></li>`;
}

function ownedList(owned: Owned): string {
  const rows = owned.items.map(
    (item) => `<li>${escapeHtml(item.title)} \u00d7 ${String(item.count)}</li>`,
  );
  return rows.length === 0 ? '<li>No gear yet</li>' : rows.join('');
}

/** The shop: the player's inventory, then the gear and the gem packs, each with its paywall. */
export function gameShopPage(
  items: readonly ShopItem[],
  owned: Owned,
  platformUrl: string,
): SitePage {
  const shelf = (sold: readonly ShopItem[]) =>
    `<ul class="shelf">${sold.map((item) => card(item, platformUrl)).join('\n')}</ul>`;
  return {
    siteName,
    title: `${siteName} (demo)`,
    platformUrl,
    stylesheetPath: gameShopStylesheetPath,
    scriptPath: gameShopScriptPath,
    body: `<h1>${siteName}</h1>
<p>Gear and gems for <i>Mite Quest</i>, a few cents each, paid from your Mite wallet.</p>
<section class="inventory" aria-labelledby="inventory-heading">
<h2 id="inventory-heading">Your inventory</h2>
<p>Gems: <strong id="gems-count" data-testid="gems">${String(owned.gems)}</strong></p>
<ul id="owned" data-testid="owned">${ownedList(owned)}</ul>
<p id="shop-status" role="status"></p>
</section>
<h2>Gear</h2>
${shelf(items.filter((item) => item.gems === undefined))}
<h2>Gem packs</h2>
${shelf(items.filter((item) => item.gems !== undefined))}
<p class="demo-note">A demo shop: everything here is sold through the Mite platform at ${escapeHtml(platformUrl)}, and your inventory is what the receipts this shop verified say you bought.</p>`,
  };
}
