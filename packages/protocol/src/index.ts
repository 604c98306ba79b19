/**
 * @mite/protocol: Mite's HTTP 402 wire formats (challenges, credentials, receipts, amounts, the
 * x402 envelope and the price list) as pure encoders and decoders that run in browsers and Node.
 * See PROTOCOL.md beside this package for the wire format and its limits.
 */
export {
  amountMicrosMax,
  amountScale,
  amountTextLengthMax,
  currency,
  formatAmount,
  formatLedgerAmount,
  isAmountText,
  microsPerUnit,
  parseAmount,
  parsePositiveAmount,
  sameAmountText,
} from './amounts.ts';
export {
  type AuthChallenge,
  challengeCountMax,
  formatAuthChallenge,
  headerLengthMax,
  isToken,
  paramCountMax,
  parseAuthChallenges,
  parseAuthCredentials,
  quoteString,
  sameScheme,
} from './auth-params.ts';
export {
  decodeBase64,
  decodeBase64Json,
  decodeBase64url,
  decodeBase64urlJson,
  encodeBase64,
  encodeBase64Json,
  encodeBase64url,
  encodeBase64urlJson,
} from './base64url.ts';
export { canonicalJson } from './canonical-json.ts';
export {
  type Challenge,
  challengeEcho,
  type ChallengeEcho,
  challengeEchoSchema,
  challengeFromEcho,
  challengeIdLength,
  challengeIdMatches,
  challengeLifetimeSecondsMax,
  type ChallengeOptions,
  challengeSecretLengthMin,
  chargeIntent,
  checkChallengeTimes,
  clockSkewSecondsMax,
  decodeChallengeEcho,
  decodePaymentRequest,
  formatChallengeHeader,
  issueChallenge,
  miteMethod,
  parseChallengeHeader,
  type PaymentRequest,
  paymentRequestSchema,
  paymentScheme,
  requestEncodedLengthMax,
} from './challenge.ts';
export {
  checkCompactJws,
  type Credential,
  credentialHeaderLengthMax,
  credentialJson,
  type CredentialPayload,
  decodeCredentialJson,
  formatCredentialHeader,
  jwsLengthMax,
  parseCredentialHeader,
  sourceLengthMax,
} from './credential.ts';
export {
  accessPeriodSecondsMax,
  categoryLengthMax,
  descriptionLengthMax,
  identifierLengthMax,
  platformUrlLengthMax,
  realmLengthMax,
  resourceLengthMax,
} from './fields.ts';
export {
  formatPaymentReceiptHeader,
  parsePaymentReceiptHeader,
  type PaymentReceipt,
  paymentReceiptHeaderName,
} from './payment-receipt.ts';
export {
  accepted,
  type Decoded,
  type DecodeErrorCode,
  excerpt,
  type ProblemDetails,
  problemDetails,
  problemMediaType,
  problemTable,
  problemTypeBase,
  protocolErrorCodes,
  type ProtocolErrorCode,
  type Refusal,
  refused,
  type VerificationErrorCode,
} from './problems.ts';
export { checkReceiptBinding } from './receipt-binding.ts';
export {
  type ExplainedFailure,
  fail,
  type Failure,
  ok,
  type Result,
  type Success,
} from './result.ts';
export {
  decodeReceiptClaims,
  type ReceiptClaims,
  receiptClaimsSchema,
  receiptMediaType,
} from './receipt-claims.ts';
export { formatTimestamp, parseTimestamp, timestampSecondsMax } from './timestamps.ts';
export {
  decodePriceList,
  formatPriceList,
  parsePriceList,
  type PriceList,
  priceListLengthMax,
  type PriceListRoute,
  priceListPath,
  priceListRouteCountMax,
  priceListSchema,
} from './well-known.ts';
export {
  encodeX402Header,
  encodeX402PaymentResponse,
  parseX402PaymentRequired,
  parseX402PaymentSignature,
  toX402PaymentPayload,
  toX402PaymentRequired,
  toX402SettleResponse,
  x402HeaderLengthMax,
  type X402Network,
  x402NetworkOf,
  type X402PaymentPayload,
  type X402PaymentRequired,
  type X402PaymentRequirements,
  x402PaymentRequiredHeaderName,
  x402PaymentResponseHeaderName,
  x402PaymentSignatureHeaderName,
  x402RequirementsOf,
  type X402ResourceInfo,
  x402Scheme,
  type X402SettleResponse,
  x402TimeoutSecondsDefault,
  x402Version,
} from './x402.ts';
export { isLoopbackHostname, isSecureOrLoopback } from './transport.ts';
