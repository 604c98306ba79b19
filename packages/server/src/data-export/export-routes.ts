import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requirePrincipal } from '../http/route-config.ts';
import { exportZip } from './export-csv.ts';
import type { UserExporter } from './user-export.ts';

/** Exports are heavy reads: a person needs a few, a script hammering them gets 429. */
const exportsPerMinuteMax = 5;

const exportSchema = z.object({
  exportedAt: z.string().describe('When the export was made (ISO 8601)'),
  userId: z.string(),
  sections: z
    .record(z.string(), z.array(z.record(z.string(), z.unknown())))
    .describe(
      'One list of records per kind: `users` (the account, email decrypted), `sessions`, ' +
        '`wallet`, `wallet_movements`, `payments`, `refunds`, `topups`, `token_withdrawals`, ' +
        '`payment_sessions`, ' +
        '`policy_decisions`, `account_freezes`, `offer_access`, `wallet_budgets`, ' +
        '`monthly_spending`, `user_limits`, `limit_changes`, `guardian_consents`, `consents`, ' +
        '`merchant_members`, ' +
        '`operators`, `merchants`, `merchant_invitations`, `personal_data_views`, ' +
        '`idempotency_records`',
    ),
});

/** The user's own data, all of it, as JSON or as a zip of CSV files (data-export/). */
export const exportRoutes: FastifyPluginAsyncZod<{ exporter: UserExporter }> = async (
  api,
  { exporter },
) => {
  api.get(
    '/v1/users/me/export',
    {
      schema: {
        summary: 'Everything Mite holds about me, as JSON or as a zip of CSV files',
        description:
          'For a wallet session. `format=json` (the default) answers one JSON document; ' +
          '`format=csv` a zip with one CSV file per kind of record and a README.txt. Secrets ' +
          '(password and token hashes, the card processor\u2019s token) are not included; ' +
          'purchases past their retention period no longer hold what was bought.',
        tags: ['wallet'],
        querystring: z.object({ format: z.enum(['json', 'csv']).default('json') }),
        response: {
          200: {
            description: 'The export, as an attachment',
            content: {
              'application/json': { schema: exportSchema },
              'application/zip': { schema: z.string().describe('A zip of CSV files') },
            },
          },
        },
      },
      config: {
        auth: { kinds: ['user'] },
        rateLimit: { max: exportsPerMinuteMax, timeWindow: 60_000 },
      },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const exported = await exporter.exportFor(userId);
      if (exported === undefined) throw new Error('bug: an authenticated user without a record');
      const name = `mite-export-${exported.exportedAt.slice(0, 10)}`;
      reply.header('cache-control', 'no-store');
      if (request.query.format === 'csv') {
        reply.header('content-type', 'application/zip');
        reply.header('content-disposition', `attachment; filename="${name}.zip"`);
        // The zip is bytes, which the typed reply (the JSON schema's) does not describe.
        return (reply as FastifyReply).send(Buffer.from(exportZip(exported)));
      }
      reply.header('content-type', 'application/json; charset=utf-8');
      reply.header('content-disposition', `attachment; filename="${name}.json"`);
      return reply.send(JSON.stringify(exported, null, 2));
    },
  );
};
