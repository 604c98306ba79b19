/**
 * A stand-in for the Mite platform in this package's tests: real Ed25519 keys, a JWKS served over
 * loopback HTTP at `/v1/keys` (counting its requests), and receipts signed exactly as the
 * platform signs them (packages/server/src/receipts). Not exported from the package.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Challenge,
  type Credential,
  currency,
  encodeX402Header,
  formatAmount,
  formatCredentialHeader,
  parseChallengeHeader,
  type ReceiptClaims,
  receiptMediaType,
  requestAmountMicros,
  toX402PaymentPayload,
} from '@mite/protocol';
import { calculateJwkThumbprint, CompactSign, exportJWK, type JWK } from 'jose';
import { createPaywall, type Paywall, type PaywallOptions } from './core.ts';
import type { PricedRoute } from './routes.ts';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
}

export async function createSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, publicJwk: { ...jwk, kid, alg: 'EdDSA', use: 'sig' } };
}

/** Signs claims as the platform does: compact JWS, EdDSA, the JSON of the claims as payload. */
export async function signReceipt(
  claims: ReceiptClaims | Record<string, unknown>,
  key: SigningKey,
  header: { readonly typ?: string; readonly kid?: string } = {},
): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({
      alg: 'EdDSA',
      kid: header.kid ?? key.kid,
      typ: header.typ ?? receiptMediaType,
    })
    .sign(key.privateKey);
}

export interface TestPlatform {
  /** The base URL, as a merchant configures `platformUrl`. */
  readonly url: string;
  /** JWKS requests served so far. */
  readonly jwksRequests: number;
  /** The key receipts are signed with. */
  readonly signingKey: SigningKey;
  /** Publishes these keys from now on (a rotation, or a key withdrawn). */
  publish(keys: readonly SigningKey[]): void;
  /** Signs with this key from now on. */
  signWith(key: SigningKey): void;
  /** Answers 503 to JWKS requests while down. */
  setDown(down: boolean): void;
  /** Receipt claims for a payment of this challenge at this time, as the platform writes them. */
  claimsFor(challenge: Challenge, issuedAtSeconds: number): ReceiptClaims;
  /** Pays a challenge: the `Authorization` value carrying the signed receipt. */
  pay(challenge: Challenge, options: PayOptions): Promise<string>;
  /** Pays a challenge: the x402 `PAYMENT-SIGNATURE` value carrying the same credential. */
  payX402(challenge: Challenge, options: PayOptions): Promise<string>;
  close(): Promise<void>;
}

export interface PayOptions {
  /** When the platform took the payment, in seconds since the epoch. */
  readonly issuedAtSeconds: number;
  readonly claims?: Partial<ReceiptClaims>;
}

export async function startTestPlatform(): Promise<TestPlatform> {
  let signingKey = await createSigningKey();
  let published: readonly SigningKey[] = [signingKey];
  let jwksRequests = 0;
  let down = false;
  let paymentCount = 0;
  const server = createServer((request, response) => {
    if (request.url !== '/v1/keys') return void response.writeHead(404).end();
    jwksRequests += 1;
    if (down) return void response.writeHead(503).end();
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: published.map((key) => key.publicJwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const platform: TestPlatform = {
    url: `http://127.0.0.1:${port}`,
    get jwksRequests() {
      return jwksRequests;
    },
    get signingKey() {
      return signingKey;
    },
    publish: (keys) => void (published = keys),
    signWith: (key) => void (signingKey = key),
    setDown: (isDown) => void (down = isDown),
    claimsFor(challenge, issuedAtSeconds) {
      paymentCount += 1;
      return {
        paymentId: `pay_${paymentCount}`,
        merchantId: challenge.request.recipient,
        resource: challenge.request.methodDetails.resource,
        amount: formatAmount(requestAmountMicros(challenge.request)),
        currency,
        payer: 'psn_test',
        issuedAt: issuedAtSeconds,
        accessUntil: issuedAtSeconds + challenge.request.methodDetails.accessPeriodSeconds,
        challengeId: challenge.id,
      };
    },
    async pay(challenge, options) {
      return formatCredentialHeader(await credentialFor(challenge, options));
    },
    async payX402(challenge, options) {
      return encodeX402Header(toX402PaymentPayload(await credentialFor(challenge, options)));
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };

  async function credentialFor(challenge: Challenge, options: PayOptions): Promise<Credential> {
    const claims = { ...platform.claimsFor(challenge, options.issuedAtSeconds), ...options.claims };
    return { challenge, payload: { receipt: await signReceipt(claims, signingKey) } };
  }

  return platform;
}

/** 2027-01-15T08:00:00Z, in milliseconds. */
export const testStartMs = 1_800_000_000_000;
export const testSecret = new Uint8Array(32).map((_, index) => index + 1);

export interface TestClock {
  /** Milliseconds since the epoch. */
  readonly nowMs: () => number;
  readonly nowSeconds: () => number;
  advanceSeconds(seconds: number): void;
}

export function createTestClock(startMs: number = testStartMs): TestClock {
  let nowMs = startMs;
  return {
    nowMs: () => nowMs,
    nowSeconds: () => Math.floor(nowMs / 1000),
    advanceSeconds: (seconds) => void (nowMs += seconds * 1000),
  };
}

/** The routes most tests sell. */
export const testRoutes: readonly PricedRoute[] = [
  {
    method: 'GET',
    path: '/articles/:id',
    price: '0.02',
    description: 'An article',
    category: 'news',
    accessPeriodSeconds: 86_400,
  },
  { method: 'GET', path: '/api/quote', price: '0.001', description: 'One quote' },
];

export function testPaywall(
  platform: TestPlatform,
  clock: TestClock,
  options: Partial<PaywallOptions> = {},
): Paywall {
  return createPaywall({
    merchantId: 'mer_test',
    realm: 'shop.test',
    platformUrl: platform.url,
    challengeSecret: testSecret,
    clock: clock.nowMs,
    routes: testRoutes,
    ...options,
  });
}

/** The challenge of a `WWW-Authenticate` value, which the test expects to be there and valid. */
export function challengeOf(
  headers: Readonly<Record<string, string>> | Headers,
  nowSeconds: number,
): Challenge {
  const value =
    headers instanceof Headers ? headers.get('www-authenticate') : headers['WWW-Authenticate'];
  if (value === null || value === undefined) throw new Error('no WWW-Authenticate header');
  const challenge = parseChallengeHeader(value, { nowSeconds });
  if (!challenge.ok) throw new Error(`bad challenge: ${challenge.detail}`);
  return challenge.value;
}
