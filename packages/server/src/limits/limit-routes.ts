import { currency } from '@mite/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { passwordSchema } from '../auth/auth-routes.ts';
import { sendProblem } from '../http/problems.ts';
import { requirePrincipal } from '../http/route-config.ts';
import { amountSchema, formatAmount, microsOf } from '../money/amount-schema.ts';
import { fixedLimitScopes, parseLimitScope, userLimitMicrosMax } from './limit-scopes.ts';
import { confirmationRateLimit } from './password-confirmation.ts';
import type { AccountStanding, UserActivity } from './user-activity.ts';
import {
  type LimitChange,
  limitChangesListedMax,
  type UserLimitSettings,
} from './user-limit-settings.ts';

const scopeDescription =
  `One of ${fixedLimitScopes.map((scope) => `\`${scope}\``).join(', ')} (a category\u2019s ` +
  'monthly spending, the monthly spending on resellable goods, any one payment, the monthly ' +
  'top-ups), or `merchant:<merchant id>` (the monthly spending with that merchant)';

const isoOf = (ms: number) => new Date(ms).toISOString();
const amountOf = (micros: bigint | undefined) =>
  micros === undefined ? null : formatAmount(micros);

const changeSchema = z.object({
  id: z.string(),
  scope: z.string(),
  oldLimit: z.string().nullable().describe('null: there was no limit'),
  newLimit: z.string().nullable().describe('null: the limit was removed'),
  direction: z.enum(['raised', 'lowered']),
  confirmedBy: z.enum(['password', 'none']).describe('A raise is confirmed with the password'),
  changedAt: z.string(),
});

function changeView(change: LimitChange): z.infer<typeof changeSchema> {
  return {
    id: change.id,
    scope: change.scope,
    oldLimit: amountOf(change.oldLimitMicros),
    newLimit: amountOf(change.newLimitMicros),
    direction: change.direction,
    confirmedBy: change.confirmedBy,
    changedAt: isoOf(change.changedAtMs),
  };
}

const standingSchema = z.object({
  dormant: z
    .boolean()
    .describe('Unused for a year and not re-enabled since: payments are refused until re-enabled'),
  lastActiveAt: z.string().describe('The last log-in, top-up or re-enabling'),
  reactivatedAt: z.string().nullable(),
});

function standingView(standing: AccountStanding): z.infer<typeof standingSchema> {
  return {
    dormant: standing.dormant,
    lastActiveAt: isoOf(standing.lastActiveAtMs),
    reactivatedAt: standing.reactivatedAtMs === undefined ? null : isoOf(standing.reactivatedAtMs),
  };
}

const limitsSchema = z.object({
  currency: z.string(),
  scopes: z.array(z.string()).describe('The fixed scopes, in the order to show them'),
  limits: z.array(z.object({ scope: z.string(), limit: z.string(), updatedAt: z.string() })),
  changes: z
    .array(changeSchema)
    .describe(`The latest ${limitChangesListedMax} changes, newest first; the export has all`),
  account: standingSchema,
});

const putLimitSchema = z
  .object({
    limit: amountSchema
      .nullable()
      .describe(`The new limit (at most ${formatAmount(userLimitMicrosMax)}); null removes it`),
    password: passwordSchema
      .optional()
      .describe('Needed to raise or remove a limit: the account\u2019s password, asked again'),
  })
  .strict();

interface LimitRouteDeps {
  readonly limits: UserLimitSettings;
  readonly activity: UserActivity;
}

/** The user's own limits (GET, PUT a scope) and re-enabling a dormant account. */
export const limitRoutes: FastifyPluginAsyncZod<LimitRouteDeps> = async (api, deps) => {
  api.get(
    '/v1/users/me/limits',
    {
      schema: {
        summary: 'My spending limits, their changes, and whether my account is dormant',
        tags: ['limits'],
        response: { 200: limitsSchema },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request) => {
      const userId = requirePrincipal(request, 'user').id;
      const { limits, changes } = await deps.limits.limitsOf(userId);
      const standing = await deps.activity.standing(userId);
      if (standing === undefined) throw new Error('bug: an authenticated user without a record');
      return {
        currency,
        scopes: [...fixedLimitScopes],
        limits: limits.map((limit) => ({
          scope: limit.scope,
          limit: formatAmount(limit.limitMicros),
          updatedAt: isoOf(limit.updatedAtMs),
        })),
        changes: changes.map(changeView),
        account: standingView(standing),
      };
    },
  );

  api.put(
    '/v1/users/me/limits/:scope',
    {
      schema: {
        summary: 'Set, lower, raise or remove one of my limits',
        description:
          'Lowering a limit, or setting one where there was none, takes effect at once. ' +
          'Raising or removing one needs the password in the body (else ' +
          '`403 confirmation-required`, and nothing changes; a wrong one is ' +
          '`401 invalid-credentials`). A limit of zero blocks what it limits. Every change is ' +
          'logged; setting the limit it already has changes nothing (`change` is null).',
        tags: ['limits'],
        params: z.object({ scope: z.string().max(100).describe(scopeDescription) }),
        body: putLimitSchema,
        response: {
          200: z.object({
            scope: z.string(),
            limit: z.string().nullable(),
            change: changeSchema.nullable(),
          }),
        },
      },
      config: { auth: { kinds: ['user'] }, idempotent: false, rateLimit: confirmationRateLimit },
    },
    async (request, reply) => {
      const scope = parseLimitScope(request.params.scope);
      if (scope === undefined) {
        return sendProblem(reply, 'validationFailed', `No such limit: ${scopeDescription}.`);
      }
      const { limit, password } = request.body;
      const limitMicros = limit === null ? undefined : microsOf(limit);
      const changed = await deps.limits.setLimit({
        userId: requirePrincipal(request, 'user').id,
        scope,
        limitMicros,
        password,
      });
      if (!changed.ok) return sendProblem(reply, changed.code, changed.detail);
      return {
        scope,
        limit: amountOf(limitMicros),
        change: changed.value === undefined ? null : changeView(changed.value),
      };
    },
  );

  api.post(
    '/v1/users/me/reactivation',
    {
      schema: {
        summary: 'Re-enable my dormant account',
        description:
          'An account with no log-in or top-up for a year is dormant: payments, top-ups and ' +
          'token withdrawals are refused until its owner re-enables it here, with the ' +
          'password. Re-enabling an account that is not dormant only records the time.',
        tags: ['limits'],
        body: z.object({ password: passwordSchema }).strict(),
        response: { 200: standingSchema },
      },
      config: { auth: { kinds: ['user'] }, idempotent: false, rateLimit: confirmationRateLimit },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const result = await deps.activity.reactivate(userId, request.body.password);
      if (!result.ok) return sendProblem(reply, result.code, result.detail);
      return standingView(result.value);
    },
  );
};
