import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { emailSchema, passwordSchema } from '../auth/auth-routes.ts';
import { sendProblem } from '../http/problems.ts';
import { requirePrincipal } from '../http/route-config.ts';
import { ageOfMajorityYears } from './birth-dates.ts';
import type { GuardianRequest, MinorSettings, MinorStatus } from './minor-settings.ts';
import { confirmationRateLimit } from './password-confirmation.ts';

const consentStates = ['requested', 'granted', 'withdrawn'] as const;
const isoOf = (ms: number) => new Date(ms).toISOString();

const statusSchema = z.object({
  declared: z.boolean().describe('Whether a birth date was declared (it is not shown back)'),
  minor: z.boolean().describe(`Under ${ageOfMajorityYears} by the declared birth date`),
  guardianConsent: z
    .object({ id: z.string(), state: z.enum(consentStates), at: z.string() })
    .nullable()
    .describe('The latest request for a guardian\u2019s consent and its state; null if none'),
});

function statusView(status: MinorStatus): z.infer<typeof statusSchema> {
  const consent = status.guardianConsent;
  return {
    declared: status.declared,
    minor: status.minor,
    guardianConsent:
      consent === undefined
        ? null
        : { id: consent.id, state: consent.state, at: isoOf(consent.atMs) },
  };
}

const requestSchema = z.object({
  id: z.string(),
  minorEmail: z.string(),
  state: z.enum(consentStates),
  requestedAt: z.string(),
  grantedAt: z.string().nullable(),
});

function requestView(request: GuardianRequest): z.infer<typeof requestSchema> {
  return {
    id: request.id,
    minorEmail: request.minorEmail,
    state: request.state,
    requestedAt: isoOf(request.requestedAtMs),
    grantedAt: request.grantedAtMs === undefined ? null : isoOf(request.grantedAtMs),
  };
}

const requestIdParams = z.object({ requestId: z.string().max(100) });

/** Declaring a birth date, asking a guardian, and a guardian's answers. Wallet sessions only. */
export const minorRoutes: FastifyPluginAsyncZod<{ minors: MinorSettings }> = async (
  api,
  { minors },
) => {
  const user = { auth: { kinds: ['user' as const] } };
  api.get(
    '/v1/users/me/birth-date',
    {
      schema: {
        summary: 'Whether I declared a birth date, am a minor, and my guardian\u2019s consent',
        tags: ['limits'],
        response: { 200: statusSchema },
      },
      config: user,
    },
    async (request) => statusView(await minors.statusOf(requirePrincipal(request, 'user').id)),
  );

  api.put(
    '/v1/users/me/birth-date',
    {
      schema: {
        summary: 'Declare my birth date (once)',
        description:
          `Sealed under the account\u2019s data key. Under ${ageOfMajorityYears} (coming of age ` +
          'at midnight of the birthday in the operator\u2019s time zone) payments need a ' +
          'guardian\u2019s consent and a lower cap applies. A birth date is declared once: a ' +
          'second declaration is refused (`409 birth-date-declared`), so that a minor cannot ' +
          'declare themselves adult.',
        tags: ['limits'],
        body: z.object({ birthDate: z.string().max(10).describe('YYYY-MM-DD') }).strict(),
        response: { 200: statusSchema },
      },
      config: { ...user, idempotent: false },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const declared = await minors.declareBirthDate(userId, request.body.birthDate);
      if (!declared.ok) return sendProblem(reply, declared.code, declared.detail);
      return statusView(declared.value);
    },
  );

  api.post(
    '/v1/users/me/guardian-consent',
    {
      schema: {
        summary: 'Ask a guardian for their consent (minors)',
        description:
          'Names the guardian by the email of their Mite account; they must have declared a ' +
          'birth date that makes them an adult. One request is open or granted at a time.',
        tags: ['limits'],
        body: z.object({ guardianEmail: emailSchema }).strict(),
        response: { 200: statusSchema },
      },
      config: { ...user, idempotent: false, rateLimit: confirmationRateLimit },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const asked = await minors.requestConsent(userId, request.body.guardianEmail);
      if (!asked.ok) return sendProblem(reply, asked.code, asked.detail);
      return statusView(asked.value);
    },
  );

  api.get(
    '/v1/users/me/guardian-requests',
    {
      schema: {
        summary: 'The minors who named me as their guardian (open and granted)',
        tags: ['limits'],
        response: { 200: z.object({ requests: z.array(requestSchema) }) },
      },
      config: user,
    },
    async (request) => ({
      requests: (await minors.requestsFor(requirePrincipal(request, 'user').id)).map(requestView),
    }),
  );

  api.post(
    '/v1/users/me/guardian-requests/:requestId/grant',
    {
      schema: {
        summary: 'Grant my consent as guardian',
        description: 'With the password, asked again: the consent lets the minor pay.',
        tags: ['limits'],
        params: requestIdParams,
        body: z.object({ password: passwordSchema }).strict(),
        response: { 200: z.object({ requests: z.array(requestSchema) }) },
      },
      config: { ...user, idempotent: false, rateLimit: confirmationRateLimit },
    },
    async (request, reply) => {
      const guardianId = requirePrincipal(request, 'user').id;
      const granted = await minors.grant(
        guardianId,
        request.params.requestId,
        request.body.password,
      );
      if (!granted.ok) return sendProblem(reply, granted.code, granted.detail);
      return { requests: (await minors.requestsFor(guardianId)).map(requestView) };
    },
  );

  api.post(
    '/v1/users/me/guardian-requests/:requestId/withdraw',
    {
      schema: {
        summary: 'Decline a request, or withdraw my consent as guardian',
        description: 'Takes effect at once: the minor\u2019s payments are refused from then on.',
        tags: ['limits'],
        params: requestIdParams,
        response: { 200: z.object({ requests: z.array(requestSchema) }) },
      },
      config: { ...user, idempotent: false },
    },
    async (request, reply) => {
      const guardianId = requirePrincipal(request, 'user').id;
      const withdrawn = await minors.withdraw(guardianId, request.params.requestId);
      if (!withdrawn.ok) return sendProblem(reply, withdrawn.code, withdrawn.detail);
      return { requests: (await minors.requestsFor(guardianId)).map(requestView) };
    },
  );
};
