/**
 * Where a request carries its payment: `Authorization: Payment <credential>` (the draft's way) or
 * the x402 `PAYMENT-SIGNATURE` header, whose payload is the same Mite credential. Also when a
 * client wants the x402 envelope on a 402.
 */
import {
  type Credential,
  parseCredentialHeader,
  parseX402PaymentSignature,
  type ProtocolErrorCode,
} from '@mite/protocol';

/**
 * When a 402 also carries `PAYMENT-REQUIRED`: `onRequest` (the default) when the client shows it
 * speaks x402, by sending `PAYMENT-SIGNATURE` or `X-Payment-Protocol: x402`; `always`, for sites
 * that want stock x402 clients, which send no hint, to discover them; `never` also ignores
 * `PAYMENT-SIGNATURE`.
 */
export type X402Mode = 'onRequest' | 'always' | 'never';

/** The request header by which a client asks for the x402 envelope. */
export const x402HintHeaderName = 'X-Payment-Protocol';

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

/** A header's value; repeated fields are joined as HTTP joins them, with ", ". */
export function readHeader(headers: Headers, name: string): string | undefined {
  const lower = name.toLowerCase();
  let value = headers[lower];
  if (value === undefined) {
    const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === lower);
    value = key === undefined ? undefined : headers[key];
  }
  return typeof value === 'string' ? value : value?.join(', ');
}

export function wantsX402(mode: X402Mode, request: { readonly headers: Headers }): boolean {
  if (mode !== 'onRequest') return mode === 'always';
  if (readHeader(request.headers, 'payment-signature') !== undefined) return true;
  const hint = readHeader(request.headers, x402HintHeaderName) ?? '';
  return hint.split(',').some((token) => token.trim().toLowerCase() === 'x402');
}

export type PresentedCredential =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed'; readonly code: ProtocolErrorCode; readonly detail: string }
  | {
      readonly kind: 'credential';
      readonly credential: Credential;
      readonly via: 'authorization' | 'x402';
    };

// Another scheme (a site's own Bearer tokens, say) is not a payment, so it is not refused here.
const paymentScheme = /^\s*payment(?:\s|$)/i;

export function readCredential(
  mode: X402Mode,
  request: { readonly headers: Headers },
): PresentedCredential {
  const authorization = readHeader(request.headers, 'authorization');
  const payment =
    authorization !== undefined && paymentScheme.test(authorization) ? authorization : undefined;
  const signature = mode === 'never' ? undefined : readHeader(request.headers, 'payment-signature');
  if (payment !== undefined && signature !== undefined) {
    return {
      kind: 'malformed',
      code: 'malformedHeader',
      detail: 'send the credential in Authorization or in PAYMENT-SIGNATURE, not both',
    };
  }
  const parsed =
    payment !== undefined
      ? parseCredentialHeader(payment)
      : signature !== undefined
        ? parseX402PaymentSignature(signature)
        : undefined;
  if (parsed === undefined) return { kind: 'none' };
  if (!parsed.ok) return { kind: 'malformed', code: parsed.code, detail: parsed.detail };
  return {
    kind: 'credential',
    credential: parsed.value,
    via: payment !== undefined ? 'authorization' : 'x402',
  };
}
