/**
 * Tokens (issue 14): a user's withdrawals, anyone's swaps (the tokens are the authority), and a
 * merchant's deposits of the tokens it was paid with. The keys' public list is
 * token-key-routes.ts.
 */
import { accessPeriodSecondsMax, formatAmount } from '@mite/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idempotencyKeyHeader, idempotentReplayedHeader } from '../http/idempotency-plugin.ts';
import { sendProblem } from '../http/problems.ts';
import { deviceHeaderDescription, requestOrigin } from '../http/request-origin.ts';
import { requirePrincipal } from '../http/route-config.ts';
import { presentedDecisionId } from '../policy/policy-confirmations.ts';
import { amountSchema, microsOf } from '../money/amount-schema.ts';
import { tokenMessageBytesMax, tokensPerRequestMax, type PresentedToken } from './spent-tokens.ts';
import type { TokenDeposits } from './token-deposits.ts';
import type { TokenSwaps } from './token-swaps.ts';
import {
  type BlindedOutput,
  tokenWithdrawalOutputsMax,
  type TokenWithdrawals,
} from './token-withdrawals.ts';

/** Base64url of at most a 8192-bit modulus. */
const blindedMessageSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/)
  .max(1366)
  .describe('The blinded message, base64url (the length of the key\u2019s modulus)');

const tokenSchema = z.object({
  keyId: z.string().min(1).max(100),
  message: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .max(Math.ceil((tokenMessageBytesMax * 4) / 3))
    .describe('The token\u2019s random message, base64url'),
  signature: blindedMessageSchema.describe('The platform\u2019s signature on it, base64url'),
});

const outputSchema = z.object({
  keyId: z.string().min(1).max(100),
  blindedMessage: blindedMessageSchema,
});

const blindSignaturesSchema = z.array(z.object({ keyId: z.string(), blindSignature: z.string() }));

function presentedTokens(tokens: readonly z.infer<typeof tokenSchema>[]): PresentedToken[] {
  return tokens.map((token) => ({
    keyId: token.keyId,
    message: new Uint8Array(Buffer.from(token.message, 'base64url')),
    signature: new Uint8Array(Buffer.from(token.signature, 'base64url')),
  }));
}

function blindedOutputs(outputs: readonly z.infer<typeof outputSchema>[]): BlindedOutput[] {
  return outputs.map((output) => ({
    keyId: output.keyId,
    blindedMessage: new Uint8Array(Buffer.from(output.blindedMessage, 'base64url')),
  }));
}

function blindSignaturesJson(
  signatures: readonly { keyId: string; blindSignature: Uint8Array }[],
): z.infer<typeof blindSignaturesSchema> {
  return signatures.map((signed) => ({
    keyId: signed.keyId,
    blindSignature: Buffer.from(signed.blindSignature).toString('base64url'),
  }));
}

export const tokenRoutes: FastifyPluginAsyncZod<{
  withdrawals: TokenWithdrawals;
  swaps: TokenSwaps;
  deposits: TokenDeposits;
}> = async (api, { withdrawals, swaps, deposits }) => {
  await api.register(swapRoute, { swaps });
  await api.register(depositRoute, { deposits });
  api.post(
    '/v1/tokens/withdrawals',
    {
      schema: {
        summary: 'Withdraw tokens',
        description:
          'Signs blinded messages, each with a key of the keyset issuing now (GET ' +
          '/v1/token-keys), and debits the wallet by the sum of their denominations. The ' +
          'platform never sees the tokens: the client unblinds the signatures (RFC 9474 ' +
          'Finalize). Once per Idempotency-Key: a retry with the same outputs answers the same ' +
          'signatures without a second debit; other outputs under the same key are refused. ' +
          'Keep the blinding state until the signatures are in hand. A withdrawal the ' +
          'platform\u2019s policy challenged (`403 policy-challenged`) goes ahead once the user ' +
          'confirms it (`POST /v1/policy-decisions/{decisionId}/confirmation`) and sends it ' +
          'again with header `Mite-Policy-Confirmation: <decisionId>`. ' +
          deviceHeaderDescription,
        tags: ['tokens'],
        body: z.object({
          outputs: z.array(outputSchema).min(1).max(tokenWithdrawalOutputsMax),
        }),
        response: {
          201: z.object({
            withdrawalId: z.string(),
            amount: z.string(),
            blindSignatures: blindSignaturesSchema,
          }),
        },
      },
      config: { auth: { kinds: ['user'] }, idempotent: 'inHandler' },
    },
    async (request, reply) => {
      const { id: userId } = requirePrincipal(request, 'user');
      const idempotencyKey = String(request.headers[idempotencyKeyHeader]);
      const confirmation = presentedDecisionId(request.headers);
      if (!confirmation.ok) return sendProblem(reply, confirmation.code, confirmation.detail);
      const result = await withdrawals.withdraw({
        userId,
        idempotencyKey,
        outputs: blindedOutputs(request.body.outputs),
        confirmationId: confirmation.value,
        origin: requestOrigin(request),
      });
      if (!result.ok) return sendProblem(reply, result.code, result.detail, result.extra);
      const { withdrawalId, amountMicros, blindSignatures } = result.value;
      return reply.code(201).send({
        withdrawalId,
        amount: formatAmount(amountMicros),
        blindSignatures: blindSignaturesJson(blindSignatures),
      });
    },
  );
};

const swapRoute: FastifyPluginAsyncZod<{ swaps: TokenSwaps }> = async (api, { swaps }) => {
  api.post(
    '/v1/tokens/swaps',
    {
      schema: {
        summary: 'Swap tokens for new ones',
        description:
          'Spends the input tokens and signs blinded messages worth exactly as much, each for ' +
          'a key issuing now: change, or fresh tokens. No session: the tokens are the ' +
          'authority, and naming a user would link the new tokens to them. The same inputs ' +
          'and outputs sent again are answered with the same signatures (a client that lost ' +
          'the answer); other outputs for the same inputs are refused as spent.',
        tags: ['tokens'],
        body: z.object({
          inputs: z.array(tokenSchema).min(1).max(tokensPerRequestMax),
          outputs: z.array(outputSchema).min(1).max(tokenWithdrawalOutputsMax),
        }),
        response: {
          201: z.object({
            swapId: z.string(),
            amount: z.string(),
            blindSignatures: blindSignaturesSchema,
          }),
        },
      },
      config: { auth: 'public', idempotent: false },
    },
    async (request, reply) => {
      const swapped = await swaps.swap({
        inputs: presentedTokens(request.body.inputs),
        outputs: blindedOutputs(request.body.outputs),
      });
      if (!swapped.ok) return sendProblem(reply, swapped.code, swapped.detail, swapped.extra);
      if (swapped.replayed === true) reply.header(idempotentReplayedHeader, 'true');
      const { swapId, amountMicros, blindSignatures } = swapped.value;
      return reply.code(201).send({
        swapId,
        amount: formatAmount(amountMicros),
        blindSignatures: blindSignaturesJson(blindSignatures),
      });
    },
  );
};

const depositRoute: FastifyPluginAsyncZod<{ deposits: TokenDeposits }> = async (
  api,
  { deposits },
) => {
  api.post(
    '/v1/tokens/deposits',
    {
      schema: {
        summary: 'Deposit the tokens a client paid with',
        description:
          'A merchant deposits the tokens of a `mite-token` credential, which it verified ' +
          'offline, before it serves: each is verified again and spent, atomically (of two ' +
          'deposits of one token exactly one succeeds), and the merchant is credited as for a ' +
          'purchase. The tokens must add up to `amount` exactly. The answer is a receipt like a ' +
          'purchase\u2019s, whose payer is `tokens`. The same tokens deposited again by the ' +
          'same merchant get the same receipt (`Idempotent-Replayed: true`) and move nothing: ' +
          'the tokens are the idempotency key.',
        tags: ['tokens'],
        body: z.object({
          tokens: z.array(tokenSchema).min(1).max(tokensPerRequestMax),
          amount: amountSchema,
          resource: z.string().min(1).max(2048),
          challengeId: z.string().min(1).max(100).optional(),
          accessPeriodSeconds: z.number().int().min(0).max(accessPeriodSecondsMax).default(0),
        }),
        response: {
          201: z.object({
            paymentId: z.string(),
            receipt: z.string(),
            claims: z.record(z.string(), z.unknown()),
          }),
        },
      },
      config: { auth: { kinds: ['merchant'], scopes: ['tokens:deposit'] }, idempotent: false },
    },
    async (request, reply) => {
      const { id: merchantId } = requirePrincipal(request, 'merchant');
      const { body } = request;
      const deposited = await deposits.deposit({
        merchantId,
        tokens: presentedTokens(body.tokens),
        amountMicros: microsOf(body.amount),
        resource: body.resource,
        challengeId: body.challengeId ?? null,
        accessPeriodSeconds: body.accessPeriodSeconds,
      });
      if (!deposited.ok) {
        return sendProblem(reply, deposited.code, deposited.detail, deposited.extra);
      }
      if (deposited.replayed === true) reply.header(idempotentReplayedHeader, 'true');
      const { paymentId, receipt, claims } = deposited.value;
      return reply.code(201).send({ paymentId, receipt, claims: { ...claims } });
    },
  );
};
