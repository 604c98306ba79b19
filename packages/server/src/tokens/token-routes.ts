/** A user's token withdrawals (issue 14); the keys' public list is token-key-routes.ts. */
import { formatAmount } from '@mite/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idempotencyKeyHeader } from '../http/idempotency-plugin.ts';
import { sendProblem } from '../http/problems.ts';
import { requirePrincipal } from '../http/route-config.ts';
import { tokenWithdrawalOutputsMax, type TokenWithdrawals } from './token-withdrawals.ts';

/** Base64url of at most a 8192-bit modulus. */
const blindedMessageSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/)
  .max(1366)
  .describe('The blinded message, base64url (the length of the key\u2019s modulus)');

export const tokenRoutes: FastifyPluginAsyncZod<{ withdrawals: TokenWithdrawals }> = async (
  api,
  { withdrawals },
) => {
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
          'Keep the blinding state until the signatures are in hand.',
        tags: ['tokens'],
        body: z.object({
          outputs: z
            .array(
              z.object({ keyId: z.string().min(1).max(100), blindedMessage: blindedMessageSchema }),
            )
            .min(1)
            .max(tokenWithdrawalOutputsMax),
        }),
        response: {
          201: z.object({
            withdrawalId: z.string(),
            amount: z.string(),
            blindSignatures: z.array(z.object({ keyId: z.string(), blindSignature: z.string() })),
          }),
        },
      },
      config: { auth: { kinds: ['user'] }, idempotent: 'inHandler' },
    },
    async (request, reply) => {
      const { id: userId } = requirePrincipal(request, 'user');
      const idempotencyKey = String(request.headers[idempotencyKeyHeader]);
      const result = await withdrawals.withdraw({
        userId,
        idempotencyKey,
        outputs: request.body.outputs.map((output) => ({
          keyId: output.keyId,
          blindedMessage: new Uint8Array(Buffer.from(output.blindedMessage, 'base64url')),
        })),
      });
      if (!result.ok) return sendProblem(reply, result.code, result.detail, result.extra);
      const { withdrawalId, amountMicros, blindSignatures } = result.value;
      return reply.code(201).send({
        withdrawalId,
        amount: formatAmount(amountMicros),
        blindSignatures: blindSignatures.map((signed) => ({
          keyId: signed.keyId,
          blindSignature: Buffer.from(signed.blindSignature).toString('base64url'),
        })),
      });
    },
  );
};
