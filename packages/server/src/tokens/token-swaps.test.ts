/**
 * Swaps over real HTTP: tokens for new ones worth exactly as much, with no session and no money
 * moved; the inputs are spent, a retry gets the same signatures, and racing swaps of one token
 * make new tokens once.
 */
import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';
import {
  finished,
  outputsFor,
  outputsJson,
  startTokenWorld,
  type TokenWorld,
  wireAmount,
} from './testing/token-world.ts';

function swapCall(world: TokenWorld, inputs: unknown, outputs: unknown) {
  return world.env.call('POST', '/v1/tokens/swaps', { body: { inputs, outputs } });
}

async function outstanding(world: TokenWorld): Promise<bigint> {
  const [account] = await world.env.platform.ledger.lookupAccounts([
    platformAccountIds.tokensOutstanding,
  ]);
  assert.ok(account);
  return account.creditsPosted - account.debitsPosted;
}

forEachDialect('token swaps', (dialect, it) => {
  it('give change worth exactly the inputs, without a session, and spend the inputs', async (t) => {
    const world = await startTokenWorld(t, dialect);
    const [eight] = await world.withdraw([8n]);
    assert.ok(eight);
    const outputs = outputsFor([
      world.keyOf(4n),
      world.keyOf(2n),
      world.keyOf(1n),
      world.keyOf(1n),
    ]);
    const swapped = await swapCall(world, [eight], outputsJson(outputs));
    assert.equal(swapped.status, 201, swapped.text);
    assert.equal(swapped.body?.amount, '0.000008');
    const change = finished(outputs, swapped.body);
    assert.equal(await outstanding(world), 8n, 'a swap moves no money');

    // A retry of the same swap: the same signatures. Other outputs for the same input: spent.
    const again = await swapCall(world, [eight], outputsJson(outputs));
    assert.equal(again.status, 201);
    assert.deepEqual(again.body?.blindSignatures, swapped.body?.blindSignatures);
    const other = outputsFor([world.keyOf(8n)]);
    assert.equal((await swapCall(world, [eight], outputsJson(other))).status, 409);
    assert.equal((await world.deposit([eight], wireAmount(8n))).status, 409, 'the input is spent');

    // The change pays, exactly.
    const [four, two, oneA, oneB] = change;
    assert.ok(four && two && oneA && oneB);
    assert.equal((await world.deposit([four, two, oneA], wireAmount(7n))).status, 201);
    assert.equal((await world.deposit([oneB], wireAmount(1n))).status, 201);
    assert.equal(await outstanding(world), 0n);
  });

  it('refuse outputs worth more or less than the inputs, and forged inputs, spending nothing', async (t) => {
    const world = await startTokenWorld(t, dialect);
    const [four] = await world.withdraw([4n]);
    assert.ok(four);
    const more = outputsFor([world.keyOf(4n), world.keyOf(1n)]);
    const less = outputsFor([world.keyOf(2n)]);
    for (const outputs of [more, less]) {
      const refused = await swapCall(world, [four], outputsJson(outputs));
      assert.equal(refused.status, 422, refused.text);
      assert.equal(refused.body?.type, '/v1/problems/token-amount-mismatch');
    }
    const forged = {
      ...four,
      message: Buffer.from('not the signed message').toString('base64url'),
    };
    const refused = await swapCall(world, [forged], outputsJson(outputsFor([world.keyOf(4n)])));
    assert.equal(refused.status, 422);
    assert.equal(refused.body?.type, '/v1/problems/invalid-token');
    assert.equal((await world.deposit([four], wireAmount(4n))).status, 201, 'still unspent');
  });

  it('make new tokens once when swaps of one token race', async (t) => {
    const world = await startTokenWorld(t, dialect);
    const [two] = await world.withdraw([2n]);
    assert.ok(two);
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        swapCall(world, [two], outputsJson(outputsFor([world.keyOf(1n), world.keyOf(1n)]))),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    assert.equal(statuses.filter((status) => status === 201).length, 1, String(statuses));
    assert.ok(
      statuses.every((status) => status === 201 || status === 409),
      String(statuses),
    );
  });
});
