/**
 * `GET /v1/funding`: how this platform takes top-ups, so that the wallet app shows the right form:
 * none (top-ups are off), Stripe, or the sandbox with its published test cards (the list the
 * sandbox itself decides by, so that the page and the processor cannot disagree).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { FundingProviderName } from './funding-config.ts';
import { sandboxCards } from './sandbox-provider.ts';

type SandboxBehaviour = keyof typeof sandboxCards;

/** What each test card does, as the top-up page says it. */
const sandboxCardDescriptions: { readonly [B in SandboxBehaviour]: string } = {
  succeeds: 'Succeeds at once',
  confirmsLater: 'Succeeds once the processor confirms it, a few seconds later',
  declines: 'Declined',
  insufficientFunds: 'Declined: insufficient funds',
  failsLater: 'Accepted, then fails when the processor confirms',
};

const testCardSchema = z.object({
  number: z.string(),
  behaviour: z.enum(Object.keys(sandboxCards) as [SandboxBehaviour, ...SandboxBehaviour[]]),
  description: z.string(),
});

const fundingSchema = z.object({
  provider: z.enum(['none', 'sandbox', 'stripe']).describe('Who takes top-ups; none: they are off'),
  sandbox: z.boolean().describe('True when no real money moves'),
  testCards: z
    .array(testCardSchema)
    .describe('The sandbox only: its published test cards (any future expiry, any CVC)'),
});

export const fundingInfoRoutes: FastifyPluginAsyncZod<{
  funding: { readonly provider: FundingProviderName; readonly sandbox: boolean };
}> = async (api, { funding }) => {
  const testCards =
    funding.provider === 'sandbox'
      ? (Object.entries(sandboxCards) as [SandboxBehaviour, string][]).map(
          ([behaviour, number]) => ({
            number,
            behaviour,
            description: sandboxCardDescriptions[behaviour],
          }),
        )
      : [];
  api.get(
    '/v1/funding',
    {
      schema: {
        summary: 'How this platform takes top-ups, and the sandbox\u2019s test cards',
        tags: ['wallet'],
        response: { 200: fundingSchema },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async () => ({ provider: funding.provider, sandbox: funding.sandbox, testCards }),
  );
};
