/**
 * The operator's risk rules under `/v1/operator/risk/` (operators only): the rule set in force,
 * every version written, and a new version, which takes effect at once on this node and within
 * `ruleSetRefreshMs` on the others (rule-set-store.ts), without a restart.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sendProblem } from '../http/problems.ts';
import {
  ruleSetHistoryMax,
  ruleSetJsonBytesMax,
  ruleSetRefreshMs,
  type RuleSetStore,
  type StoredRuleSet,
} from './rule-set-store.ts';

const operatorOnly = { auth: { kinds: ['operator' as const] } };

const storedRuleSetSchema = z.object({
  version: z.string(),
  ruleSet: z.unknown().describe('The rule set\u2019s JSON, as written'),
  createdBy: z.string().nullable().describe('`operator:<id>`; null for the built-in default'),
  createdAt: z.string().nullable().describe('RFC 3339; null for the built-in default'),
  inForce: z.boolean(),
});

function storedBody(stored: StoredRuleSet): z.infer<typeof storedRuleSetSchema> {
  return {
    version: stored.version,
    ruleSet: stored.ruleSet,
    createdBy: stored.createdBy,
    createdAt: stored.createdAtMs === null ? null : new Date(stored.createdAtMs).toISOString(),
    inForce: stored.inForce,
  };
}

export const riskRuleSetRoutes: FastifyPluginAsyncZod<{ ruleSets: RuleSetStore }> = async (
  api,
  options,
) => {
  await api.register(readRoutes, options);
  await api.register(publishRoute, options);
};

const readRoutes: FastifyPluginAsyncZod<{ ruleSets: RuleSetStore }> = async (api, { ruleSets }) => {
  api.get(
    '/v1/operator/risk/rule-set',
    {
      schema: {
        summary: 'The risk rule set in force',
        description:
          'The version the operator stored last, or, with none stored, the built-in default ' +
          '(`createdBy` null).',
        tags: ['operator'],
        response: { 200: storedRuleSetSchema },
      },
      config: operatorOnly,
    },
    async () => storedBody(await ruleSets.inForce()),
  );

  api.get(
    '/v1/operator/risk/rule-sets',
    {
      schema: {
        summary: 'Every risk rule set version stored, newest first',
        description: `At most ${ruleSetHistoryMax}; the built-in default is not among them.`,
        tags: ['operator'],
        response: { 200: z.object({ ruleSets: z.array(storedRuleSetSchema) }) },
      },
      config: operatorOnly,
    },
    async () => ({ ruleSets: (await ruleSets.history()).map(storedBody) }),
  );
};

const publishRoute: FastifyPluginAsyncZod<{ ruleSets: RuleSetStore }> = async (
  api,
  { ruleSets },
) => {
  api.post(
    '/v1/operator/risk/rule-sets',
    {
      schema: {
        summary: 'Put a new version of the risk rules in force',
        description:
          'The body is the rule set (`version` and `rules`), checked whole: an invalid set is ' +
          '`400 invalid-rule-set` listing every problem, and nothing changes; a version stored ' +
          'already is `409 rule-set-version-exists`. A new version decides the next request on ' +
          `this node, and on every other node within ${ruleSetRefreshMs / 1000} s, without a ` +
          'restart.',
        tags: ['operator'],
        body: z.record(z.string(), z.unknown()).describe('A rule set (risk/rule-set.ts)'),
        response: { 201: storedRuleSetSchema },
      },
      bodyLimit: ruleSetJsonBytesMax,
      config: { ...operatorOnly, idempotent: true },
    },
    async (request, reply) => {
      const published = await ruleSets.publish(
        request.body,
        request.principalId ?? 'operator:unknown',
      );
      if (!published.ok) {
        return sendProblem(reply, published.code, published.detail, published.extra);
      }
      return reply.code(201).send(storedBody(published.value));
    },
  );
};
