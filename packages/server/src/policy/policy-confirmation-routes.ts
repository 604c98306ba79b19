import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sendProblem } from '../http/problems.ts';
import { requirePrincipal } from '../http/route-config.ts';
import {
  challengeConfirmationTtlMs,
  type PolicyConfirmations,
  policyDecisionIdPattern,
} from './policy-confirmations.ts';

const confirmationSchema = z.object({
  decisionId: z.string(),
  confirmedAt: z.string().describe('When the user confirmed the challenge (RFC 3339)'),
  expiresAt: z
    .string()
    .describe('Until when the request may be sent again with the confirmation (RFC 3339)'),
});

/** `POST /v1/policy-decisions/{decisionId}/confirmation`: the user confirms a challenge. */
export const policyConfirmationRoutes: FastifyPluginAsyncZod<{
  confirmations: PolicyConfirmations;
}> = async (api, { confirmations }) => {
  api.post(
    '/v1/policy-decisions/:decisionId/confirmation',
    {
      schema: {
        summary: 'Confirm a payment, top-up or token withdrawal the policy challenged',
        description:
          'A request the platform\u2019s policy challenged (`403 policy-challenged`, whose ' +
          '`decisionId` this names) goes ahead once the user confirms it here and sends it ' +
          'again with header `Mite-Policy-Confirmation: <decisionId>`: the same kind of ' +
          'request, to the same merchant, for the same amount. The confirmation is used once, ' +
          `within ${challengeConfirmationTtlMs / 60_000} minutes of the challenge. Only the ` +
          'user who was challenged may confirm (another\u2019s decision is ' +
          '`404 policy-decision-not-found`); a block cannot be confirmed ' +
          '(`409 policy-block-not-confirmable`). Confirming again answers the first ' +
          'confirmation, so no Idempotency-Key is needed.',
        tags: ['wallet'],
        params: z.object({ decisionId: z.string().regex(policyDecisionIdPattern) }),
        response: { 200: confirmationSchema },
      },
      config: { auth: { kinds: ['user'] }, idempotent: false },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const confirmed = await confirmations.confirm(userId, request.params.decisionId);
      if (!confirmed.ok) return sendProblem(reply, confirmed.code, confirmed.detail);
      const { decisionId, confirmedAtMs, expiresAtMs } = confirmed.value;
      return {
        decisionId,
        confirmedAt: new Date(confirmedAtMs).toISOString(),
        expiresAt: new Date(expiresAtMs).toISOString(),
      };
    },
  );
};
