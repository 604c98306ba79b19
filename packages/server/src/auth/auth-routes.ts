import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { presentedCredential, sessionClearCookie, sessionSetCookie } from '../http/credentials.ts';
import { sendProblem } from '../http/problems.ts';
import { requirePrincipal } from '../http/route-config.ts';
import { passwordLengthMax, passwordLengthMin } from './passwords.ts';
import type { UserService } from './user-service.ts';

/** The Set-Cookie that makes the browser forget its wallet session. */
const clearedSessionCookie = sessionClearCookie('user');

export const emailSchema = z.string().email().max(254).describe('The email to log in with');

/** The rules passwordProblem() applies at sign-up, stated where clients read them. */
export const newPasswordSchema = z
  .string()
  .min(passwordLengthMin)
  .max(passwordLengthMax)
  .describe(
    `${passwordLengthMin} to ${passwordLengthMax} characters (UTF-16 code units), any ` +
      'characters; compared after Unicode NFKC normalization',
  );

/** A password to check: its rules were applied when it was set. */
export const passwordSchema = z.string().min(1).max(passwordLengthMax);

const signUpSchema = z.object({ email: emailSchema, password: newPasswordSchema });

const logInSchema = z.object({ email: emailSchema, password: passwordSchema });

/** Sign-up, log-in (a session as a bearer token and an http-only cookie), log-out, profile. */
export const authRoutes: FastifyPluginAsyncZod<{ users: UserService }> = async (api, { users }) => {
  api.post(
    '/v1/users',
    {
      schema: {
        summary: 'Sign up',
        tags: ['users'],
        body: signUpSchema,
        response: { 201: z.object({ userId: z.string() }) },
      },
      config: { auth: 'public', idempotent: false, rateLimit: { max: 10, timeWindow: 60_000 } },
    },
    async (request, reply) => {
      const result = await users.signUp(request.body);
      if (!result.ok) return sendProblem(reply, result.code, result.detail);
      return reply.code(201).send(result.value);
    },
  );

  api.post(
    '/v1/sessions',
    {
      schema: {
        summary: 'Log in',
        tags: ['users'],
        body: logInSchema,
        response: {
          201: z.object({ token: z.string(), userId: z.string(), expiresAt: z.string() }),
        },
      },
      config: { auth: 'public', idempotent: false, rateLimit: { max: 10, timeWindow: 60_000 } },
    },
    async (request, reply) => {
      const result = await users.logIn(request.body);
      if (!result.ok) return sendProblem(reply, result.code, result.detail);
      const { token, userId, expiresAtMs } = result.value;
      const maxAge = Math.floor((expiresAtMs - Date.now()) / 1000);
      reply.header('set-cookie', sessionSetCookie('user', token, maxAge));
      return reply
        .code(201)
        .send({ token, userId, expiresAt: new Date(expiresAtMs).toISOString() });
    },
  );

  api.delete(
    '/v1/sessions',
    {
      schema: {
        summary: 'Log out everywhere',
        description:
          'Ends every session of the caller, this one included: a token of any of them is ' +
          'refused from the next request on. The session cookie is cleared.',
        tags: ['users'],
        response: { 200: z.object({ sessionsEnded: z.number().int() }) },
      },
      config: { auth: { kinds: ['user'] }, idempotent: false },
    },
    async (request, reply) => {
      const sessionsEnded = await users.logOutEverywhere(requirePrincipal(request, 'user').id);
      reply.header('set-cookie', clearedSessionCookie);
      return { sessionsEnded };
    },
  );

  api.delete(
    '/v1/sessions/current',
    {
      schema: { summary: 'Log out', tags: ['users'] },
      config: { auth: { kinds: ['user'] }, idempotent: false },
    },
    async (request, reply) => {
      const token = presentedCredential(request);
      if (token !== undefined) await users.logOut(token);
      reply.header('set-cookie', clearedSessionCookie);
      return reply.code(204).send();
    },
  );
};
