/**
 * The demo's game shop: items (a sword, a skin) and gem packs, each a platform offer of the shop's
 * merchant (goods, with no access period), sold behind `@mite/middleware` at `/buy/SLUG`. A
 * browser gets the shop's page (demo-game-shop-pages.ts), with a `<mite-paywall>` per item that
 * pays in the platform's window; a program gets the 402 as anywhere else.
 *
 * Each purchase is a purchase of its own: the page names a fresh order in each item's URL
 * (`/buy/gems-100?order=...`), so each click gets a challenge of its own, which the platform pays
 * once (one payment per challenge, one per Idempotency-Key of the window) and the middleware
 * honours once (a receipt without access period is single-use). What a player owns is only what
 * receipts the shop verified granted (demo-game-inventory.ts).
 */
import type { ServerResponse } from 'node:http';
import { createPaywall, type PaidOutcome, pathSegments, withPaywall } from '@mite/middleware';
import type { DemoOffer } from '@mite/server';
import {
  cookieValue,
  type GameInventory,
  openGameInventory,
  playerCookieName,
  type ShopItem,
} from './demo-game-inventory.ts';
import {
  gameShopPage,
  gameShopScript,
  gameShopScriptPath,
  gameShopStylesheet,
  gameShopStylesheetPath,
} from './demo-game-shop-pages.ts';
import {
  loadSecret,
  pathOf,
  refusedMethod,
  sendAsset,
  sendSitePage,
  sendText,
  type SiteHandler,
  startSite,
  wantsPage,
} from './demo-site-kit.ts';

export const gameShopSecretFileName = 'game-shop-secret';

export interface DemoGameShop {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The shop's items from its merchant's offers: `item:SLUG` is an item, `gems:COUNT` a pack of
 * that many gems (slug `gems-COUNT`); other offers are not sold here.
 */
export function gameShopItems(offers: readonly DemoOffer[]): ShopItem[] {
  return offers.flatMap((offer): ShopItem[] => {
    const [kind, name] = (offer.resource ?? '').split(':', 2);
    const sold = { title: offer.title, price: offer.price, offerId: offer.offerId };
    if (kind === 'item' && name !== undefined) return [{ ...sold, slug: name }];
    const gems = Number(name);
    if (kind === 'gems' && Number.isSafeInteger(gems) && gems > 0) {
      return [{ ...sold, slug: `gems-${gems}`, gems }];
    }
    return [];
  });
}

export async function startGameShop(options: {
  readonly platformUrl: string;
  readonly merchantId: string;
  readonly host: string;
  readonly dataDir: string;
  readonly items: readonly ShopItem[];
}): Promise<DemoGameShop> {
  const secret = loadSecret(options.dataDir, gameShopSecretFileName);
  const inventory = openGameInventory(options.dataDir, secret);
  return startSite(options.host, (origin) =>
    shopHandler({ ...options, origin, secret, inventory }),
  );
}

function shopHandler(options: {
  readonly platformUrl: string;
  readonly merchantId: string;
  readonly origin: string;
  readonly secret: Uint8Array;
  readonly inventory: GameInventory;
  readonly items: readonly ShopItem[];
}): SiteHandler {
  const { items, inventory, platformUrl } = options;
  const paywall = createPaywall({
    merchantId: options.merchantId,
    // Full URLs, order included: the payment window pays only for this site's own items.
    origin: options.origin,
    realm: 'Pixel Armoury (demo)',
    platformUrl,
    challengeSecret: options.secret,
    routes: items.map((item) => ({
      method: 'GET',
      path: `/buy/${item.slug}`,
      price: item.price,
      description: `${item.title} for Mite Quest`,
      category: 'goods',
      // Single-use receipts: a consumable is bought anew each time, never opened again.
      accessPeriodSeconds: 0,
      // Charged as the platform offer, so the platform's records name what was bought.
      offer: item.offerId,
    })),
  });
  const itemAt = (url: string | undefined) => {
    const segments = pathSegments((url ?? '/').split('?', 1)[0] ?? '/');
    if (segments.length !== 2 || segments[0]?.toLowerCase() !== 'buy') return undefined;
    return items.find((item) => item.slug === segments[1]?.toLowerCase());
  };
  const paywalled = withPaywall(paywall, (request, response, paid) => {
    const item = itemAt(request.url);
    if (item === undefined && pathOf(request) !== '/') {
      return sendText(response, 404, 'no such item\n');
    }
    // Only GET (and HEAD) is sold or served: another method is no free purchase.
    if (refusedMethod(request, response)) return;
    // A GET of an item is always priced, so it gets here paid.
    if (item !== undefined && paid !== undefined) sendBought(response, inventory, item, paid);
    else sendIndex(response, items);
  });
  return (request, response) => {
    const pathname = pathOf(request);
    if (pathname === gameShopStylesheetPath && request.method === 'GET') {
      sendAsset(response, 'text/css', gameShopStylesheet);
    } else if (pathname === gameShopScriptPath && request.method === 'GET') {
      sendAsset(response, 'text/javascript', gameShopScript);
    } else if (pathname === '/' && wantsPage(request)) {
      const player = inventory.playerOf(cookieValue(request.headers.cookie, playerCookieName));
      const owned = player === undefined ? { gems: 0, items: [] } : inventory.ownedBy(player);
      sendSitePage(response, gameShopPage(items, owned, platformUrl));
    } else {
      paywalled(request, response);
    }
  };
}

/**
 * The answer to a paid purchase: what it bought and what the player owns now, as JSON (the
 * shop's page shows it), with the cookie that names the player to the shop's pages.
 */
function sendBought(
  response: ServerResponse,
  inventory: GameInventory,
  item: ShopItem,
  paid: PaidOutcome,
): void {
  const { receipt } = paid;
  inventory.grant(receipt, item);
  response.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'set-cookie': `${playerCookieName}=${inventory.playerCookie(receipt.payer)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000`,
  });
  const bought = {
    bought: item.title,
    paymentId: receipt.paymentId,
    owned: inventory.ownedBy(receipt.payer),
  };
  // A line of its own, for a terminal (`mite pay` prints the body as it is).
  response.end(`${JSON.stringify(bought)}\n`);
}

function sendIndex(response: ServerResponse, items: readonly ShopItem[]): void {
  const lines = items.map((item) => `  /buy/${item.slug}  ${item.title} (${item.price})`);
  sendText(response, 200, `Pixel Armoury (demo): items and gem packs\n${lines.join('\n')}\n`);
}
