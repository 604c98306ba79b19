/** The operator console's log-in: people with the operator role, in the console's own cookie. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { emailSchema, passwordSchema } from '../auth/auth-routes.ts';
import type { UserService } from '../auth/user-service.ts';
import { presentedCredential, sessionClearCookie, sessionSetCookie } from '../http/credentials.ts';
import { sendProblem } from '../http/problems.ts';
import { requirePrincipal } from '../http/route-config.ts';
import type { OperatorPeople } from './operator-people.ts';

export const operatorSessionRoutes: FastifyPluginAsyncZod<{
  operators: OperatorPeople;
  users: UserService;
}> = async (api, { operators, users }) => {
  api.post(
    '/v1/operator-sessions',
    {
      schema: {
        summary: 'Log in to the operator console',
        description:
          'For people with the operator role; a session returned as a bearer token and set as ' +
          'the console\u2019s own http-only cookie.',
        tags: ['operators'],
        body: z.object({ email: emailSchema, password: passwordSchema }),
        response: { 201: z.object({ token: z.string(), expiresAt: z.string() }) },
      },
      config: { auth: 'public', idempotent: false, rateLimit: { max: 10, timeWindow: 60_000 } },
    },
    async (request, reply) => {
      const result = await operators.logIn(request.body);
      if (!result.ok) return sendProblem(reply, result.code, result.detail);
      const { token, expiresAtMs } = result.value;
      const maxAgeSeconds = Math.floor((expiresAtMs - Date.now()) / 1000);
      reply.header('set-cookie', sessionSetCookie('operator', token, maxAgeSeconds));
      return reply.code(201).send({ token, expiresAt: new Date(expiresAtMs).toISOString() });
    },
  );

  api.get(
    '/v1/operator-session',
    {
      schema: {
        summary: 'Who is logged in to the console',
        description: 'The person of a console session; an admin key is answered 404.',
        tags: ['operators'],
        response: { 200: z.object({ userId: z.string(), email: z.string() }) },
      },
      config: { auth: { kinds: ['operator'] } },
    },
    async (request, reply) => {
      const { userId } = requirePrincipal(request, 'operator');
      const profile = userId === undefined ? undefined : await users.profile(userId);
      if (profile === undefined) {
        return sendProblem(reply, 'notFound', 'An admin key is no person.');
      }
      return { userId: profile.id, email: profile.email };
    },
  );

  api.delete(
    '/v1/operator-sessions/current',
    {
      schema: { summary: 'Log out of the console', tags: ['operators'] },
      config: { auth: { kinds: ['operator'] }, idempotent: false },
    },
    async (request, reply) => {
      const token = presentedCredential(request);
      // An admin key is not a session: logOut finds no session by its hash and changes nothing.
      if (token !== undefined) await users.logOut(token);
      reply.header('set-cookie', sessionClearCookie('operator'));
      return reply.code(204).send();
    },
  );
};
