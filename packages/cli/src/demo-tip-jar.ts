/**
 * The demo's tip jar: a page for a piece of work by two creators, where a visitor tips one of a
 * few preset amounts. Each amount is a platform offer of the first creator's, whose revenue split
 * gives the second creator their share (after the platform's fee), sold behind `@mite/middleware`
 * at `/tip/AMOUNT` with the route naming the offer, so that the platform charges the payment as
 * that offer and splits it. A visitor-chosen amount would need a price the offer does not fix:
 * a 402 challenge states its price and the platform charges an offer at its own price, so the
 * protocol as it is sells a fixed set of amounts, one offer each. The page thanks the tipper once
 * the shop has verified the receipt; each tip names a fresh order, so each is a purchase of its
 * own.
 */
import type { ServerResponse } from 'node:http';
import { createPaywall, type PaidOutcome, pathSegments, withPaywall } from '@mite/middleware';
import { type DemoOffer, demoTipJar } from '@mite/server';
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
import {
  tipJarPage,
  tipJarScript,
  tipJarScriptPath,
  tipJarStylesheet,
  tipJarStylesheetPath,
} from './demo-tip-jar-pages.ts';

export const tipJarSecretFileName = 'tip-jar-secret';

/** One preset tip: its amount ("0.50", also its path) and the offer that sells it. */
export interface Tip {
  readonly amount: string;
  readonly offerId: string;
}

/** The two creators and how they share each tip after the platform's fee. */
export interface Creators {
  readonly seller: string;
  readonly coCreator: string;
  readonly coCreatorShareBasisPoints: number;
}

export interface DemoTipJar {
  readonly url: string;
  close(): Promise<void>;
}

/** The tips among the seller's offers (`tip:WORK:AMOUNT`), smallest first. */
export function tipJarTips(offers: readonly DemoOffer[]): Tip[] {
  return offers
    .filter((offer) => offer.resource?.startsWith(`tip:${demoTipJar.work}:`) === true)
    .map((offer) => ({ amount: offer.price, offerId: offer.offerId }))
    .sort((a, b) => Number(a.amount) - Number(b.amount));
}

export async function startTipJar(options: {
  readonly platformUrl: string;
  /** The seller's merchant id: the first creator, whose offers the tips are. */
  readonly merchantId: string;
  readonly host: string;
  readonly dataDir: string;
  readonly tips: readonly Tip[];
  readonly creators: Creators;
}): Promise<DemoTipJar> {
  const secret = loadSecret(options.dataDir, tipJarSecretFileName);
  return startSite(options.host, (origin) => tipJarHandler({ ...options, origin, secret }));
}

function tipJarHandler(options: {
  readonly platformUrl: string;
  readonly merchantId: string;
  readonly origin: string;
  readonly secret: Uint8Array;
  readonly tips: readonly Tip[];
  readonly creators: Creators;
}): SiteHandler {
  const { tips, creators, platformUrl } = options;
  const paywall = createPaywall({
    merchantId: options.merchantId,
    origin: options.origin,
    realm: 'The Night Ferry tip jar (demo)',
    platformUrl,
    challengeSecret: options.secret,
    routes: tips.map((tip) => ({
      method: 'GET',
      path: `/tip/${tip.amount}`,
      price: tip.amount,
      description: `A tip for The Night Ferry, shared by ${creators.seller} and ${creators.coCreator}`,
      category: 'tips',
      accessPeriodSeconds: 0,
      offer: tip.offerId,
    })),
  });
  const tipAt = (url: string | undefined) => {
    const segments = pathSegments((url ?? '/').split('?', 1)[0] ?? '/');
    if (segments.length !== 2 || segments[0]?.toLowerCase() !== 'tip') return undefined;
    return tips.find((tip) => tip.amount === segments[1]);
  };
  const paywalled = withPaywall(paywall, (request, response, paid) => {
    const tip = tipAt(request.url);
    if (tip === undefined) {
      return sendText(response, 404, 'nothing here: the tips are at /tip/AMOUNT\n');
    }
    // Only GET (and HEAD) is sold: another method is no free tip, nor a thanks for one.
    if (refusedMethod(request, response)) return;
    // A GET of a tip is always priced, so it gets here paid; nothing else is thanked.
    if (paid === undefined) sendText(response, 404, 'no such tip\n');
    else sendThanks(response, creators, paid);
  });
  return (request, response) => {
    const pathname = pathOf(request);
    if (pathname === tipJarStylesheetPath && request.method === 'GET') {
      sendAsset(response, 'text/css', tipJarStylesheet);
    } else if (pathname === tipJarScriptPath && request.method === 'GET') {
      sendAsset(response, 'text/javascript', tipJarScript);
    } else if (pathname === '/' && wantsPage(request)) {
      sendSitePage(response, tipJarPage(tips, creators, platformUrl));
    } else if (pathname === '/') {
      const amounts = tips.map((tip) => `  /tip/${tip.amount}`).join('\n');
      sendText(response, 200, `The Night Ferry tip jar (demo): tip one of\n${amounts}\n`);
    } else {
      paywalled(request, response);
    }
  };
}

/** The thanks, from the verified receipt: what was tipped and the payment that carried it. */
function sendThanks(response: ServerResponse, creators: Creators, paid: PaidOutcome): void {
  const { receipt } = paid;
  const coCreatorPercent = creators.coCreatorShareBasisPoints / 100;
  sendText(
    response,
    200,
    `Thank you! Your tip of $${receipt.amount} reached ${creators.seller} and ` +
      `${creators.coCreator}, who share it ${100 - coCreatorPercent}/${coCreatorPercent} ` +
      `after the platform's fee.\n\nPayment ${receipt.paymentId}.\n`,
  );
}
