import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cursorInteger, page, pageQuery, pageSchema } from '../http/pagination.ts';
import { sendProblem } from '../http/problems.ts';
import { requirePrincipal } from '../http/route-config.ts';
import type { ConsentRow, ConsentService } from './consent-service.ts';
import { consentPurposes, currentConsentText, wholeWalletScope } from './consent-texts.ts';

/** Longest scope taken: an origin or a merchant id. */
const scopeLengthMax = 300;

const consentSchema = z.object({
  id: z.string(),
  purpose: z.enum(consentPurposes),
  scope: z.string().describe('A site\u2019s origin (autoPay), a merchant id (shareEmail) or `all`'),
  textVersion: z.string().describe('The version of the text the user agreed to'),
  grantedAt: z.string().describe('RFC 3339'),
  revokedAt: z.string().nullable().describe('RFC 3339; null while active'),
  revokedTextVersion: z.string().nullable().describe('The text in force when it was revoked'),
  active: z.boolean(),
});

function isoOf(epochMs: bigint): string {
  return new Date(Number(epochMs)).toISOString();
}

function consentView(row: ConsentRow): z.infer<typeof consentSchema> {
  return {
    id: row.id,
    purpose: row.purpose,
    scope: row.scope,
    textVersion: row.text_version,
    grantedAt: isoOf(row.granted_at),
    revokedAt: row.revoked_at === null ? null : isoOf(row.revoked_at),
    revokedTextVersion: row.revoked_text_version,
    active: row.revoked_at === null,
  };
}

const textsSchema = z.array(
  z.object({ purpose: z.enum(consentPurposes), version: z.string(), text: z.string() }),
);

const purposesDescription =
  '`autoPay` (scope: a site\u2019s origin): the payment window may pay that site without ' +
  'asking, within the budget; `shareEmail` (scope: a merchant id): that merchant may read the ' +
  `user\u2019s email; \`suggestions\` (scope: \`${wholeWalletScope}\`): purchases are used for ` +
  'personalised suggestions.';

/** The user's consents: list, grant, revoke (one call), history. Wallet sessions only. */
export const consentRoutes: FastifyPluginAsyncZod<{ consents: ConsentService }> = async (
  api,
  { consents },
) => {
  api.get(
    '/v1/consents',
    {
      schema: {
        summary: 'My active consents, and the texts in force',
        description: purposesDescription,
        tags: ['consents'],
        response: { 200: z.object({ consents: z.array(consentSchema), texts: textsSchema }) },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request) => ({
      consents: (await consents.listActive(requirePrincipal(request, 'user').id)).map(consentView),
      texts: consentPurposes.map((purpose) => ({ purpose, ...currentConsentText(purpose) })),
    }),
  );

  api.post(
    '/v1/consents',
    {
      schema: {
        summary: 'Grant a consent',
        description:
          `${purposesDescription} The grant records its time and the text version, which must ` +
          'be the one in force (else `409 consent-text-changed`). Granting an active consent ' +
          'again answers it unchanged, so no Idempotency-Key is needed.',
        tags: ['consents'],
        body: z
          .object({
            purpose: z.enum(consentPurposes),
            scope: z.string().min(1).max(scopeLengthMax),
            textVersion: z.string().min(1).max(100),
          })
          .strict(),
        response: { 200: consentSchema },
      },
      config: { auth: { kinds: ['user'] }, idempotent: false },
    },
    async (request, reply) => {
      const granted = await consents.grant(requirePrincipal(request, 'user').id, request.body);
      if (!granted.ok) return sendProblem(reply, granted.code, granted.detail);
      return consentView(granted.value);
    },
  );

  api.delete(
    '/v1/consents/:consentId',
    {
      schema: {
        summary: 'Revoke a consent',
        description:
          'Takes effect at once, on every node: each use of the data reads the consent. The ' +
          'record stays in the history with the time of the revoke. Revoking a revoked consent ' +
          'answers it unchanged, so no Idempotency-Key is needed.',
        tags: ['consents'],
        params: z.object({ consentId: z.string().max(100) }),
        response: { 200: consentSchema },
      },
      config: { auth: { kinds: ['user'] }, idempotent: false },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const revoked = await consents.revoke(userId, request.params.consentId);
      if (!revoked.ok) return sendProblem(reply, revoked.code);
      return consentView(revoked.value);
    },
  );

  api.get(
    '/v1/consents/history',
    {
      schema: {
        summary: 'Every consent I granted, active or revoked, newest first',
        tags: ['consents'],
        querystring: pageQuery(z.object({ grantedAt: cursorInteger(), id: z.string().max(100) })),
        response: { 200: pageSchema(consentSchema) },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request) => {
      const { cursor, limit } = request.query;
      const after =
        cursor === undefined ? undefined : { grantedAtMs: BigInt(cursor.grantedAt), id: cursor.id };
      const rows = await consents.history(requirePrincipal(request, 'user').id, after, limit + 1);
      const shown = page(rows, limit, (row) => ({ grantedAt: String(row.granted_at), id: row.id }));
      return { items: shown.items.map(consentView), nextCursor: shown.nextCursor };
    },
  );
};
