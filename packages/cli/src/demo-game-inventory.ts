/**
 * What each player of the demo game shop owns, derived only from receipts the shop verified
 * (offline, by `@mite/middleware`): one grant per payment id, so a receipt shown again (a retry
 * the middleware let through after a failed answer, a restart that forgot its replay store) grants
 * nothing more. A player is the receipt's `payer`, the pseudonym the platform gives the user at
 * this merchant; the browser is told which player it is by a cookie the shop signs, so that a page
 * load shows the inventory without trusting anything the client says about what it owns.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ReceiptClaims } from '@mite/protocol';

export const gameInventoryFileName = 'game-shop-inventory.json';
/** The cookie naming the player, `PAYER.MAC`. */
export const playerCookieName = 'mite_game_player';

/** What a purchase grants: one of an item, or a pack of gems. */
export interface ShopItem {
  readonly slug: string;
  readonly title: string;
  /** The price as a decimal ("0.25"), the platform offer's. */
  readonly price: string;
  /** The platform offer the route sells. */
  readonly offerId: string;
  /** For a gem pack, how many gems it adds; undefined for an item. */
  readonly gems?: number;
}

interface Grant {
  readonly payer: string;
  readonly slug: string;
  readonly title: string;
  readonly gems?: number;
  readonly issuedAt: number;
}

export interface Owned {
  readonly gems: number;
  /** Items by title with how many of each, in the order first bought. */
  readonly items: readonly { readonly title: string; readonly count: number }[];
}

export interface GameInventory {
  /** Grants what a verified receipt paid for; false when that payment was granted already. */
  grant(receipt: ReceiptClaims, item: ShopItem): boolean;
  ownedBy(payer: string): Owned;
  /** The cookie value that names this player to the shop. */
  playerCookie(payer: string): string;
  /** The player a cookie names, when the shop signed it; undefined otherwise. */
  playerOf(cookie: string | undefined): string | undefined;
}

/** The inventory, kept in `dataDir` (owner-only) so that a restart of the demo keeps it. */
export function openGameInventory(dataDir: string, secret: Uint8Array): GameInventory {
  const file = path.join(dataDir, gameInventoryFileName);
  const grants = new Map<string, Grant>(load(file));
  const mac = (payer: string) =>
    createHmac('sha256', secret).update(`game-shop-player:${payer}`).digest('base64url');
  return {
    grant(receipt, item) {
      if (grants.has(receipt.paymentId)) return false;
      grants.set(receipt.paymentId, {
        payer: receipt.payer,
        slug: item.slug,
        title: item.title,
        ...(item.gems === undefined ? {} : { gems: item.gems }),
        issuedAt: receipt.issuedAt,
      });
      writeFileSync(file, `${JSON.stringify([...grants])}\n`, { mode: 0o600 });
      return true;
    },
    ownedBy(payer) {
      let gems = 0;
      const items = new Map<string, number>();
      for (const grant of grants.values()) {
        if (grant.payer !== payer) continue;
        if (grant.gems === undefined) items.set(grant.title, (items.get(grant.title) ?? 0) + 1);
        else gems += grant.gems;
      }
      return { gems, items: [...items].map(([title, count]) => ({ title, count })) };
    },
    playerCookie: (payer) => `${payer}.${mac(payer)}`,
    playerOf(cookie) {
      const dot = cookie?.lastIndexOf('.') ?? -1;
      if (cookie === undefined || dot <= 0) return undefined;
      const payer = cookie.slice(0, dot);
      const given = Buffer.from(cookie.slice(dot + 1));
      const expected = Buffer.from(mac(payer));
      return given.length === expected.length && timingSafeEqual(given, expected)
        ? payer
        : undefined;
    },
  };
}

function load(file: string): [string, Grant][] {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as [string, Grant][];
  } catch {
    // None kept yet (or unreadable): a demo starts with empty inventories.
    return [];
  }
}

/** A cookie's value from a request's Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}
