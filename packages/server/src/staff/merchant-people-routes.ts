/**
 * The dashboard's people: sign up as a merchant, log in to its dashboard (a session in its own
 * cookie that acts as the merchant, staff-principals.ts), invitations and members. Specified for
 * the web apps in README's "Merchant dashboard" section.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { emailSchema, newPasswordSchema, passwordSchema } from '../auth/auth-routes.ts';
import type { UserService } from '../auth/user-service.ts';
import { presentedCredential, sessionClearCookie, sessionSetCookie } from '../http/credentials.ts';
import { sendProblem } from '../http/problems.ts';
import { actsForMerchant, requirePrincipal } from '../http/route-config.ts';
import { acceptPath, type MerchantInvitations } from './merchant-invitations.ts';
import type { MerchantPeople, Membership } from './merchant-people.ts';
import { merchantRoles } from './staff-roles.ts';

const publicRateLimit = { max: 10, timeWindow: 60_000 };

const roleSchema = z.enum(merchantRoles).describe('owner: everything; viewer: reads only');

const membershipSchema = z.object({ merchantId: z.string(), name: z.string(), role: roleSchema });

const merchantParams = z.object({ merchantId: z.string().min(1).max(100) });

function membershipBody(membership: Membership): z.infer<typeof membershipSchema> {
  return { merchantId: membership.merchantId, name: membership.name, role: membership.role };
}

interface MerchantPeopleRoutesOptions {
  readonly people: MerchantPeople;
  readonly invitations: MerchantInvitations;
  readonly users: UserService;
}

type Routes = FastifyPluginAsyncZod<MerchantPeopleRoutesOptions>;

export const merchantPeopleRoutes: Routes = async (api, options) => {
  await api.register(merchantSignUpRoutes, options);
  await api.register(merchantSessionRoutes, options);
  await api.register(merchantMemberRoutes, options);
};

const merchantSignUpRoutes: Routes = async (api, { people }) => {
  api.post(
    '/v1/merchant-signups',
    {
      schema: {
        summary: 'Sign up as a merchant',
        description:
          'Makes a merchant whose owner is the person with this email: a new account, or the ' +
          'existing one (a wallet, another merchant) when the password is its own. Then log in ' +
          'with POST /v1/merchant-sessions.',
        tags: ['merchant people'],
        body: z.object({
          email: emailSchema,
          password: newPasswordSchema,
          merchantName: z.string().trim().min(1).max(200).describe('Shown to people paying it'),
        }),
        response: { 201: z.object({ userId: z.string(), merchantId: z.string() }) },
      },
      config: { auth: 'public', idempotent: false, rateLimit: publicRateLimit },
    },
    async (request, reply) => {
      const result = await people.signUpMerchant(request.body);
      if (!result.ok) return sendProblem(reply, result.code, result.detail);
      return reply.code(201).send(result.value);
    },
  );
};

const merchantSessionRoutes: Routes = async (api, { people, users }) => {
  api.post(
    '/v1/merchant-sessions',
    {
      schema: {
        summary: 'Log in to a merchant\u2019s dashboard',
        description:
          'A session that acts as the merchant (the one named, else the person\u2019s first), ' +
          'with the scopes of the person\u2019s role there; returned as a bearer token and set ' +
          'as the dashboard\u2019s own http-only cookie. It cannot spend the person\u2019s wallet.',
        tags: ['merchant people'],
        body: z.object({
          email: emailSchema,
          password: passwordSchema,
          merchantId: z.string().min(1).max(100).optional(),
        }),
        response: {
          201: z.object({
            token: z.string(),
            expiresAt: z.string(),
            merchantId: z.string(),
            role: roleSchema,
            merchants: z.array(membershipSchema),
          }),
        },
      },
      config: { auth: 'public', idempotent: false, rateLimit: publicRateLimit },
    },
    async (request, reply) => {
      const { merchantId, ...credentials } = request.body;
      const result = await people.logIn({
        ...credentials,
        ...(merchantId === undefined ? {} : { merchantId }),
      });
      if (!result.ok) return sendProblem(reply, result.code, result.detail);
      const { session, membership, memberships } = result.value;
      const maxAgeSeconds = Math.floor((session.expiresAtMs - Date.now()) / 1000);
      reply.header('set-cookie', sessionSetCookie('merchant', session.token, maxAgeSeconds));
      return reply.code(201).send({
        token: session.token,
        expiresAt: new Date(session.expiresAtMs).toISOString(),
        merchantId: membership.merchantId,
        role: membership.role,
        merchants: memberships.map(membershipBody),
      });
    },
  );

  api.get(
    '/v1/merchant-session',
    {
      schema: {
        summary: 'Who is logged in to the dashboard',
        description: 'The person and merchant of a dashboard session (not of an API key).',
        tags: ['merchant people'],
        response: {
          200: z.object({
            userId: z.string(),
            email: z.string(),
            merchantId: z.string(),
            merchantName: z.string(),
            role: roleSchema,
            scopes: z.array(z.string()),
            merchants: z.array(membershipSchema),
          }),
        },
      },
      // members:read: a scope no API key holds, so only dashboard sessions reach this.
      config: { auth: { kinds: ['merchant'], scopes: ['members:read'] } },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request, 'merchant');
      const userId = principal.userId;
      if (userId === undefined)
        throw new Error('bug: a merchant principal with members:read and no person');
      const [profile, memberships] = await Promise.all([
        users.profile(userId),
        people.memberships(userId),
      ]);
      const current = memberships.find((m) => m.merchantId === principal.id);
      if (profile === undefined || current === undefined) {
        return sendProblem(reply, 'unauthenticated', 'The session\u2019s membership has ended.');
      }
      return {
        userId,
        email: profile.email,
        merchantId: principal.id,
        merchantName: current.name,
        role: current.role,
        scopes: [...principal.scopes],
        merchants: memberships.map(membershipBody),
      };
    },
  );

  api.delete(
    '/v1/merchant-sessions/current',
    {
      schema: { summary: 'Log out of the dashboard', tags: ['merchant people'] },
      config: { auth: { kinds: ['merchant'], scopes: ['members:read'] }, idempotent: false },
    },
    async (request, reply) => {
      const token = presentedCredential(request);
      if (token !== undefined) await users.logOut(token);
      reply.header('set-cookie', sessionClearCookie('merchant'));
      return reply.code(204).send();
    },
  );
};

const merchantMemberRoutes: Routes = async (api, { people, invitations }) => {
  api.post(
    '/v1/merchants/:merchantId/invitations',
    {
      schema: {
        summary: 'Invite a person into a merchant',
        description:
          'Answers a one-time link (`acceptPath`, relative to the platform) for the invited ' +
          'person, valid for 7 days; the token is shown only here.',
        tags: ['merchant people'],
        params: merchantParams,
        body: z.object({ email: emailSchema, role: roleSchema }),
        response: {
          201: z.object({
            invitationId: z.string(),
            token: z.string(),
            expiresAt: z.string(),
            acceptPath: z.string(),
          }),
        },
      },
      config: {
        auth: { kinds: ['merchant', 'operator'], scopes: ['members:write'] },
        idempotent: true,
      },
    },
    async (request, reply) => {
      const { merchantId } = request.params;
      if (!actsForMerchant(request, merchantId)) return sendProblem(reply, 'forbidden');
      const result = await invitations.invite({
        merchantId,
        ...request.body,
        invitedBy: request.principalId ?? 'unknown',
      });
      if (!result.ok) return sendProblem(reply, result.code, result.detail);
      const { invitationId, token, expiresAtMs } = result.value;
      return reply.code(201).send({
        invitationId,
        token,
        expiresAt: new Date(expiresAtMs).toISOString(),
        acceptPath: acceptPath(token),
      });
    },
  );

  api.post(
    '/v1/merchant-invitations/accept',
    {
      schema: {
        summary: 'Accept an invitation into a merchant',
        description:
          'With a new password when the invited email has no account, else with its password.',
        tags: ['merchant people'],
        body: z.object({ token: z.string().min(1).max(200), password: newPasswordSchema }),
        response: {
          201: z.object({ userId: z.string(), merchantId: z.string(), role: roleSchema }),
        },
      },
      config: { auth: 'public', idempotent: false, rateLimit: publicRateLimit },
    },
    async (request, reply) => {
      const result = await invitations.accept(request.body);
      if (!result.ok) return sendProblem(reply, result.code, result.detail);
      return reply.code(201).send(result.value);
    },
  );

  api.get(
    '/v1/merchants/:merchantId/members',
    {
      schema: {
        summary: 'The people of a merchant',
        tags: ['merchant people'],
        params: merchantParams,
        response: {
          200: z.object({
            items: z.array(
              z.object({
                userId: z.string(),
                email: z.string(),
                role: roleSchema,
                createdAt: z.string(),
              }),
            ),
          }),
        },
      },
      config: { auth: { kinds: ['merchant', 'operator'], scopes: ['members:read'] } },
    },
    async (request, reply) => {
      const { merchantId } = request.params;
      if (!actsForMerchant(request, merchantId)) return sendProblem(reply, 'forbidden');
      const members = await people.members(merchantId);
      if (members === undefined) return sendProblem(reply, 'merchantNotFound');
      return {
        items: members.map((member) => ({
          userId: member.userId,
          email: member.email,
          role: member.role,
          createdAt: new Date(member.createdAtMs).toISOString(),
        })),
      };
    },
  );

  api.delete(
    '/v1/merchants/:merchantId/members/:userId',
    {
      schema: {
        summary: 'Remove a person from a merchant',
        description: 'Their dashboard sessions for it stop working within a second.',
        tags: ['merchant people'],
        params: merchantParams.extend({ userId: z.string().min(1).max(100) }),
      },
      config: {
        auth: { kinds: ['merchant', 'operator'], scopes: ['members:write'] },
        idempotent: false,
      },
    },
    async (request, reply) => {
      const { merchantId, userId } = request.params;
      if (!actsForMerchant(request, merchantId)) return sendProblem(reply, 'forbidden');
      const result = await people.removeMember(merchantId, userId);
      if (!result.ok) return sendProblem(reply, result.code, result.detail);
      return reply.code(204).send();
    },
  );
};
