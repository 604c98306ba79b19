import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ReceiptClaims } from '@mite/protocol';
import { tempDir } from '@mite/testkit';
import { cookieValue, openGameInventory, type ShopItem } from './demo-game-inventory.ts';

const sword: ShopItem = {
  slug: 'iron-sword',
  title: 'Iron sword',
  price: '0.25',
  offerId: 'off_1',
};
const gems: ShopItem = {
  slug: 'gems-100',
  title: '100 gems',
  price: '0.10',
  offerId: 'off_2',
  gems: 100,
};

function receipt(paymentId: string, payer: string): ReceiptClaims {
  return {
    paymentId,
    merchantId: 'mer_1',
    resource: 'http://127.0.0.1:1/buy/x?order=1',
    amount: '0.10',
    currency: 'USD',
    payer,
    issuedAt: 1_700_000_000,
    accessUntil: 1_700_000_000,
  };
}

describe('the game shop inventory', () => {
  it('grants each verified payment once, to its payer, and keeps the grants across a restart', () => {
    const dataDir = tempDir('game-inventory-');
    const secret = randomBytes(32);
    const inventory = openGameInventory(dataDir, secret);
    assert.equal(inventory.grant(receipt('pay_1', 'ppl_a'), sword), true);
    assert.equal(inventory.grant(receipt('pay_2', 'ppl_a'), gems), true);
    assert.equal(inventory.grant(receipt('pay_3', 'ppl_a'), gems), true);
    // The same receipt again (a retry after a failed answer) grants nothing more.
    assert.equal(inventory.grant(receipt('pay_3', 'ppl_a'), gems), false);
    assert.equal(inventory.grant(receipt('pay_4', 'ppl_b'), gems), true);
    const owned = { gems: 200, items: [{ title: 'Iron sword', count: 1 }] };
    assert.deepEqual(inventory.ownedBy('ppl_a'), owned);
    assert.deepEqual(openGameInventory(dataDir, secret).ownedBy('ppl_a'), owned);
    assert.deepEqual(inventory.ownedBy('ppl_b'), { gems: 100, items: [] });
  });

  it('knows a player only by a cookie it signed', () => {
    const inventory = openGameInventory(tempDir('game-inventory-'), randomBytes(32));
    const cookie = inventory.playerCookie('ppl.a');
    assert.equal(inventory.playerOf(cookie), 'ppl.a');
    assert.equal(inventory.playerOf(cookie.replace('ppl.a', 'ppl.b')), undefined);
    assert.equal(inventory.playerOf('ppl_a'), undefined);
    assert.equal(inventory.playerOf(undefined), undefined);
    const other = openGameInventory(tempDir('game-inventory-'), randomBytes(32));
    assert.equal(other.playerOf(cookie), undefined, 'another shop\u2019s secret');
    assert.equal(cookieValue(`a=1; mite_game_player=${cookie}; b=2`, 'mite_game_player'), cookie);
  });
});
