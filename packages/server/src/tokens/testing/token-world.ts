/**
 * Test worlds for tokens: a platform with small denominations (each key costs a fraction of a
 * second to make), a shop (setUpShop: a merchant with a key of every scope, a user with a funded
 * wallet), and a client's half done with @mite/protocol: blind, withdraw over HTTP, finalize.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { blind, type BlindRsaPublicKey, finalize } from '@mite/protocol';
import {
  type Backend,
  type PlatformOverrides,
  type PlatformUnderTest,
  setUpShop,
  type Shop,
  startPlatformUnderTest,
} from '../../platform-testing.ts';
import type { TokenKey } from '../token-keys.ts';

export const testDenominationsMicros = [1n, 2n, 4n, 8n];

export const random = (length: number) => new Uint8Array(randomBytes(length));
export const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** A token as the wire carries it. */
export interface WireToken {
  readonly keyId: string;
  readonly message: string;
  readonly signature: string;
}

/** A blinded output and what it takes to finish it into a token. */
export interface PreparedOutput {
  readonly key: { readonly keyId: string; readonly publicKey: BlindRsaPublicKey };
  readonly message: Uint8Array;
  readonly blindedMessage: Uint8Array;
  readonly inverse: Uint8Array;
}

export function outputsFor(
  keys: readonly { keyId: string; publicKey: BlindRsaPublicKey }[],
): PreparedOutput[] {
  return keys.map((key) => {
    const message = random(32);
    const blinded = blind(key.publicKey, message, random);
    assert.ok(blinded.ok);
    return { key, message, ...blinded.value };
  });
}

export function outputsJson(outputs: readonly PreparedOutput[]) {
  return outputs.map((o) => ({ keyId: o.key.keyId, blindedMessage: b64(o.blindedMessage) }));
}

/** Turns a withdrawal's or swap's blind signatures into tokens. */
export function finished(outputs: readonly PreparedOutput[], answer: unknown): WireToken[] {
  const signatures = (answer as { blindSignatures: { blindSignature: string }[] }).blindSignatures;
  return outputs.map((output, index) => {
    const signed = signatures[index] ?? assert.fail('a signature per output');
    const token = finalize(
      output.key.publicKey,
      output.message,
      Buffer.from(signed.blindSignature, 'base64url'),
      output.inverse,
    );
    assert.ok(token.ok, 'the signature finishes into a token');
    return { keyId: output.key.keyId, message: b64(output.message), signature: b64(token.value) };
  });
}

export interface TokenWorld {
  readonly env: PlatformUnderTest;
  readonly shop: Shop;
  keyOf(micros: bigint): TokenKey;
  /** Withdraws tokens of these denominations from the shop's user's wallet. */
  withdraw(denominationsMicros: readonly bigint[]): Promise<WireToken[]>;
  /** The merchant's deposit of tokens as payment of `amount` for `resource`. */
  deposit(
    tokens: readonly WireToken[],
    amount: string,
    options?: { apiKey?: string; resource?: string },
  ): ReturnType<PlatformUnderTest['call']>;
}

export async function startTokenWorld(
  t: TestContext,
  backend: Backend,
  overrides: PlatformOverrides = {},
): Promise<TokenWorld> {
  const env = await startPlatformUnderTest(t, backend, {
    backgroundJobs: false,
    tokenDenominationsMicros: testDenominationsMicros,
    ...overrides,
  });
  const shop = await setUpShop(env);
  const keys = await env.platform.services.tokenKeys.publishedKeys();
  const keyOf = (micros: bigint) =>
    keys.find((key) => key.denominationMicros === micros) ?? assert.fail(`no key of ${micros}`);
  let withdrawals = 0;
  return {
    env,
    shop,
    keyOf,
    async withdraw(denominationsMicros) {
      const outputs = outputsFor(denominationsMicros.map(keyOf));
      const answer = await env.call('POST', '/v1/tokens/withdrawals', {
        auth: shop.user,
        body: { outputs: outputsJson(outputs) },
        headers: { 'idempotency-key': `withdrawal-${++withdrawals}` },
      });
      assert.equal(answer.status, 201, answer.text);
      return finished(outputs, answer.body);
    },
    deposit(tokens, amount, options = {}) {
      return env.call('POST', '/v1/tokens/deposits', {
        auth: options.apiKey ?? shop.apiKey,
        body: { tokens, amount, resource: options.resource ?? '/articles/9' },
      });
    },
  };
}

/** Micro-units as a wire amount (test amounts are below one unit). */
export function wireAmount(micros: bigint): string {
  return `0.${micros.toString().padStart(6, '0')}`;
}
