import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { retentionPeriods } from './retention-periods.ts';

const retentionSchema = z.object({
  items: z.array(
    z.object({
      key: z.string(),
      what: z.string().describe('What is kept'),
      days: z
        .number()
        .nullable()
        .describe('How long, in days; null while the account exists or the law requires'),
      then: z.string().describe('What happens after, or why it is kept'),
    }),
  ),
});

/** What the platform keeps about users and for how long: public, so that anyone can read it first. */
export const retentionRoutes: FastifyPluginAsyncZod<{ purchaseDetailRetentionMs: number }> = async (
  api,
  { purchaseDetailRetentionMs },
) => {
  api.get(
    '/v1/privacy/retention',
    {
      schema: {
        summary: 'What Mite keeps about its users, and for how long',
        description:
          'This platform\u2019s retention periods, as its jobs enforce them: the wallet\u2019s ' +
          '"Your data" page shows them. Public, so that a person can read them before signing up.',
        tags: ['privacy'],
        response: { 200: retentionSchema },
      },
      config: { auth: 'public' },
    },
    async () => ({ items: retentionPeriods({ purchaseDetailRetentionMs }) }),
  );
};
