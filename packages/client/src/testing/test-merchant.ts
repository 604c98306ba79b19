/**
 * A loopback merchant: paid routes answer 402 with a challenge from the protocol's
 * `issueChallenge`, and serve the content to a credential whose echo carries this merchant's HMAC
 * (`challengeIdMatches`) and whose receipt claims pay for this route. The receipt's signature is
 * NOT checked here (the middleware's business); single-use receipts are refused when replayed.
 * Test-only code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Challenge,
  challengeIdMatches,
  chargeRequest,
  checkReceiptBinding,
  decodeBase64urlJson,
  decodeReceiptClaims,
  encodeX402Header,
  formatChallengeHeader,
  formatPaymentReceiptHeader,
  issueChallenge,
  parseAmount,
  parseCredentialHeader,
  type PaymentRequest,
  problemDetails,
  type ProtocolErrorCode,
  toX402PaymentRequired,
  x402PaymentRequiredHeaderName,
} from '@mite/protocol';
import { listen, readBody, sendJson } from './http.ts';

export interface TestRoute {
  readonly price: string;
  /** Default 86,400 (one day); 0 makes a single-use purchase. */
  readonly accessPeriodSeconds?: number;
  readonly currency?: string;
  readonly description?: string;
  /** The platform the challenge names (default: the merchant's `platformUrl`). */
  readonly platform?: string;
  /** The resource the challenge names (default: the route's path). */
  readonly resource?: string;
  /** Refuse every credential, even a valid one (a merchant that takes the money and says no). */
  readonly refuseCredentials?: boolean;
  /** Speak only x402 (`PAYMENT-REQUIRED`), not `WWW-Authenticate: Payment`. */
  readonly x402Only?: boolean;
}

export interface TestMerchantOptions {
  readonly platformUrl: string;
  readonly routes: Readonly<Record<string, TestRoute>>;
  readonly merchantId?: string;
  readonly realm?: string;
  /** Milliseconds since the epoch (default `Date.now`). */
  readonly clock?: () => number;
}

export interface MerchantRequestRecord {
  readonly method: string;
  readonly path: string;
  /** Whether it carried `Authorization: Payment`. */
  readonly withCredential: boolean;
  readonly body: string;
  readonly outcome: 'served' | 'challenged' | 'refused' | 'notFound';
  /** The refusal's code when refused. */
  readonly code?: ProtocolErrorCode;
}

export interface TestMerchant {
  readonly url: string;
  readonly requests: readonly MerchantRequestRecord[];
  /** Requests served (paid content delivered), optionally for one path. */
  served(path?: string): number;
  /** From now on, every receipt already presented is refused (as if the merchant forgot them). */
  revokeReceiptsSeen(): void;
  close(): Promise<void>;
}

const secret = new Uint8Array(32).map((_, index) => (index * 13 + 5) & 0xff);

export async function startTestMerchant(options: TestMerchantOptions): Promise<TestMerchant> {
  const clock = options.clock ?? Date.now;
  const merchantId = options.merchantId ?? 'mer_test';
  const realm = options.realm ?? 'merchant.test';
  const requests: MerchantRequestRecord[] = [];
  const usedSingleUse = new Set<string>();
  const seen = new Set<string>();
  const revoked = new Set<string>();

  function challengeFor(path: string, route: TestRoute): Challenge {
    const price = parseAmount(route.price);
    if (!price.ok) throw new RangeError(`bad test price ${route.price}: ${price.detail}`);
    const request: PaymentRequest = chargeRequest({
      amountMicros: price.value,
      currency: route.currency ?? 'USD',
      recipient: merchantId,
      resource: route.resource ?? path,
      platform: route.platform ?? options.platformUrl,
      accessPeriodSeconds: route.accessPeriodSeconds ?? 86_400,
      ...(route.description === undefined ? {} : { description: route.description }),
    });
    return issueChallenge({
      secret,
      realm,
      request,
      expiresAtSeconds: Math.floor(clock() / 1000) + 300,
    });
  }

  function challenge(
    response: ServerResponse,
    path: string,
    route: TestRoute,
    code: ProtocolErrorCode,
    detail: string,
  ): void {
    const issued = challengeFor(path, route);
    const headers: Record<string, string> = {
      'cache-control': 'no-store',
      'content-type': 'application/problem+json',
    };
    if (route.x402Only === true) {
      headers[x402PaymentRequiredHeaderName] = encodeX402Header(
        toX402PaymentRequired(issued, { url: `${running.url}${path}` }),
      );
    } else {
      headers['www-authenticate'] = formatChallengeHeader(issued);
    }
    sendJson(response, 402, problemDetails(code, detail, { challengeId: issued.id }), headers);
  }

  /** The refusal code of a credential, or its receipt's claims when it pays for this route. */
  function judge(
    authorization: string,
    path: string,
    route: TestRoute,
  ):
    | {
        ok: true;
        paymentId: string;
        challengeId: string;
        issuedAtSeconds: number;
        accessUntilSeconds: number;
      }
    | { ok: false; code: ProtocolErrorCode; status: 400 | 402; detail: string } {
    const credential = parseCredentialHeader(authorization);
    if (!credential.ok) return { ...credential, status: 400 };
    const echoed = credential.value.challenge;
    if (!challengeIdMatches(echoed, secret)) {
      return { ok: false, code: 'invalidChallenge', status: 402, detail: 'not issued here' };
    }
    const expected = challengeFor(path, route).request;
    if (
      echoed.request.methodDetails.resource !== expected.methodDetails.resource ||
      echoed.request.amount !== expected.amount
    ) {
      return { ok: false, code: 'wrongResource', status: 402, detail: 'another route' };
    }
    const proof = credential.value.payload;
    if (!('receipt' in proof)) {
      return { ok: false, code: 'receiptInvalid', status: 402, detail: 'no receipt' };
    }
    const payload = proof.receipt.split('.')[1] ?? '';
    const json = decodeBase64urlJson(payload, 4096);
    if (!json.ok) return { ok: false, code: 'receiptInvalid', status: 402, detail: json.detail };
    const claims = decodeReceiptClaims(json.value);
    if (!claims.ok)
      return { ok: false, code: 'receiptInvalid', status: 402, detail: claims.detail };
    const nowSeconds = Math.floor(clock() / 1000);
    const singleUse = claims.value.accessUntil === claims.value.issuedAt;
    // A single-use receipt has no access period to be inside of: it is judged at its issue time
    // and then refused as a replay once used.
    const binding = checkReceiptBinding(claims.value, echoed, {
      nowSeconds: singleUse ? claims.value.issuedAt - 1 : nowSeconds,
    });
    if (!binding.ok) return { ...binding, status: 402 };
    const { paymentId } = claims.value;
    if (revoked.has(paymentId) || route.refuseCredentials === true) {
      return { ok: false, code: 'receiptInvalid', status: 402, detail: 'this receipt is refused' };
    }
    if (singleUse && usedSingleUse.has(paymentId)) {
      return { ok: false, code: 'receiptReplayed', status: 402, detail: 'used already' };
    }
    if (singleUse) usedSingleUse.add(paymentId);
    seen.add(paymentId);
    return {
      ok: true,
      paymentId,
      challengeId: echoed.id,
      issuedAtSeconds: claims.value.issuedAt,
      accessUntilSeconds: claims.value.accessUntil,
    };
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const path = new URL(request.url ?? '/', 'http://merchant').pathname;
    const body = await readBody(request);
    const authorization = request.headers.authorization;
    const withCredential = authorization?.startsWith('Payment ') === true;
    const route = options.routes[path];
    const record = (outcome: MerchantRequestRecord['outcome'], code?: ProtocolErrorCode): void => {
      requests.push({
        method,
        path,
        withCredential,
        body,
        outcome,
        ...(code === undefined ? {} : { code }),
      });
    };
    if (route === undefined) {
      record('notFound');
      sendJson(response, 404, { title: 'not found' });
      return;
    }
    if (!withCredential || authorization === undefined) {
      record('challenged');
      challenge(response, path, route, 'paymentRequired', `${path} costs ${route.price}`);
      return;
    }
    const verdict = judge(authorization, path, route);
    if (!verdict.ok) {
      record('refused', verdict.code);
      if (verdict.status === 400) {
        sendJson(response, 400, problemDetails(verdict.code, verdict.detail), {
          'content-type': 'application/problem+json',
        });
      } else {
        challenge(response, path, route, verdict.code, verdict.detail);
      }
      return;
    }
    record('served');
    const text = `paid content of ${path}${body === '' ? '' : ` (received ${JSON.stringify(body)})`}`;
    response.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'payment-receipt': formatPaymentReceiptHeader({
        status: 'success',
        method: 'mite',
        timestampSeconds: verdict.issuedAtSeconds,
        reference: verdict.paymentId,
        challengeId: verdict.challengeId,
        accessUntilSeconds: verdict.accessUntilSeconds,
      }),
    });
    response.end(text);
  }

  const running = await listen(handle);
  return {
    url: running.url,
    requests,
    served: (path) =>
      requests.filter((r) => r.outcome === 'served' && (path === undefined || r.path === path))
        .length,
    revokeReceiptsSeen: () => {
      for (const paymentId of seen) revoked.add(paymentId);
    },
    close: () => running.close(),
  };
}
