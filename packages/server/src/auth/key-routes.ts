import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sendProblem } from '../http/problems.ts';
import { type Principal, requirePrincipal } from '../http/route-config.ts';
import type { ApiKeyInfo, KeyActor, MerchantService } from '../merchants/merchant-service.ts';
import type { AdminKeyInfo, AdminKeyService } from './admin-keys.ts';
import { apiKeyScopes, holdsScopes } from './scopes.ts';

const isoTimeOrNull = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const lastUsedDescription =
  'ISO 8601, recorded at most once a minute per key (so up to a minute early); null if never used';

const apiKeySchema = z.object({
  keyId: z.string().describe('The public part of the key (`mite_k_<keyId>_...`)'),
  merchantId: z.string(),
  scopes: z.array(z.enum(apiKeyScopes)),
  createdAt: z.string().describe('ISO 8601'),
  lastUsedAt: z.string().nullable().describe(lastUsedDescription),
  revokedAt: z.string().nullable().describe('ISO 8601; null while the key works'),
});

const adminKeySchema = z.object({
  keyId: z.string().describe('The public part of the key (`mite_a_<keyId>_...`)'),
  label: z.string(),
  createdAt: z.string().describe('ISO 8601'),
  lastUsedAt: z.string().nullable().describe(lastUsedDescription),
  revokedAt: z.string().nullable().describe('ISO 8601; null while the key works'),
});

const rotatedSchema = z.object({
  keyId: z.string(),
  secret: z.string().describe('The new secret: shown only here'),
  replacedKeyId: z.string().describe('The key revoked by the rotation'),
});

const keyIdSchema = z.string().min(1).max(64);
const rotateDescription =
  'A new secret for the same scopes; the old key is revoked in the same transaction. Not ' +
  'idempotent, so that the new secret is stored nowhere: a retry after a lost answer is refused ' +
  '(the old key is revoked already), and the key listing shows the new key.';

function apiKeyBody(key: ApiKeyInfo): z.infer<typeof apiKeySchema> {
  return {
    keyId: key.keyId,
    merchantId: key.merchantId,
    scopes: [...key.scopes],
    createdAt: new Date(key.createdAtMs).toISOString(),
    lastUsedAt: isoTimeOrNull(key.lastUsedAtMs),
    revokedAt: isoTimeOrNull(key.revokedAtMs),
  };
}

function adminKeyBody(key: AdminKeyInfo): z.infer<typeof adminKeySchema> {
  return {
    keyId: key.keyId,
    label: key.label,
    createdAt: new Date(key.createdAtMs).toISOString(),
    lastUsedAt: isoTimeOrNull(key.lastUsedAtMs),
    revokedAt: isoTimeOrNull(key.revokedAtMs),
  };
}

const merchantParams = z.object({ merchantId: z.string().min(1).max(64) });
const merchantKeyParams = merchantParams.extend({ keyId: keyIdSchema });
const ownKeyParams = z.object({ keyId: keyIdSchema });
const operator: KeyActor = { kind: 'operator' };
const merchantActor = (principal: Principal): KeyActor => ({
  kind: 'merchant',
  scopes: principal.scopes,
});

type ApiKeyRoutes = FastifyPluginAsyncZod<{ merchants: MerchantService }>;

/**
 * Listing, revoking and rotating merchant API keys: an operator any merchant's; a merchant its own
 * (with the api_keys scopes, and only keys whose scopes its key holds). Revocation takes effect at
 * once on every node: keys are read from the database on every request, none is cached.
 */
export const apiKeyRoutes: ApiKeyRoutes = async (api, options) => {
  await api.register(operatorApiKeyRoutes, options);
  await api.register(ownApiKeyRoutes, options);
};

/** An operator's hold on any merchant's keys. */
const operatorApiKeyRoutes: ApiKeyRoutes = async (api, { merchants }) => {
  api.get(
    '/v1/merchants/:merchantId/api-keys',
    {
      schema: {
        summary: 'A merchant\u2019s API keys, revoked ones too (never their secrets)',
        tags: ['merchants'],
        params: merchantParams,
        response: { 200: z.object({ items: z.array(apiKeySchema) }) },
      },
      config: { auth: { kinds: ['operator'] } },
    },
    async (request, reply) => {
      const listed = await merchants.listApiKeys(request.params.merchantId);
      if (!listed.ok) return sendProblem(reply, listed.code, listed.detail);
      return { items: listed.value.map(apiKeyBody) };
    },
  );

  api.delete(
    '/v1/merchants/:merchantId/api-keys/:keyId',
    {
      schema: {
        summary: 'Revoke a merchant\u2019s API key, at once',
        tags: ['merchants'],
        params: merchantKeyParams,
        response: { 200: apiKeySchema },
      },
      config: { auth: { kinds: ['operator'] }, idempotent: false },
    },
    async (request, reply) => {
      const { merchantId, keyId } = request.params;
      const revoked = await merchants.revokeApiKey(merchantId, keyId, operator);
      if (!revoked.ok) return sendProblem(reply, revoked.code, revoked.detail);
      return apiKeyBody(revoked.value);
    },
  );

  api.post(
    '/v1/merchants/:merchantId/api-keys/:keyId/rotate',
    {
      schema: {
        summary: 'Rotate a merchant\u2019s API key (the new secret is shown once)',
        description: rotateDescription,
        tags: ['merchants'],
        params: merchantKeyParams,
        response: { 201: rotatedSchema },
      },
      config: { auth: { kinds: ['operator'] }, idempotent: false },
    },
    async (request, reply) => {
      const { merchantId, keyId } = request.params;
      const rotated = await merchants.rotateApiKey(merchantId, keyId, operator);
      if (!rotated.ok) return sendProblem(reply, rotated.code, rotated.detail);
      const { keyId: newKeyId, secret } = rotated.value;
      return reply.code(201).send({ keyId: newKeyId, secret, replacedKeyId: keyId });
    },
  );
};

const issuedSchema = z.object({
  keyId: z.string(),
  secret: z.string().describe('The secret (`mite_k_<keyId>_...`): shown only here'),
  scopes: z.array(z.enum(apiKeyScopes)),
});

/** A merchant's hold on its own keys. */
const ownApiKeyRoutes: ApiKeyRoutes = async (api, { merchants }) => {
  api.post(
    '/v1/api-keys',
    {
      schema: {
        summary: 'Issue an API key for my servers (the secret is shown once)',
        description:
          'With scopes the caller holds itself, so that no key (nor a dashboard session) makes ' +
          'a key that may do more than it may. A retry with the same Idempotency-Key within 24 ' +
          'hours answers the same key (the answer is kept encrypted), never a second one.',
        tags: ['merchants'],
        body: z.object({
          scopes: z.array(z.enum(apiKeyScopes)).min(1).max(apiKeyScopes.length),
        }),
        response: { 201: issuedSchema },
      },
      config: { auth: { kinds: ['merchant'], scopes: ['api_keys:write'] }, idempotent: true },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request, 'merchant');
      const scopes = [...new Set(request.body.scopes)].sort();
      if (!holdsScopes(principal.scopes, scopes)) {
        const missing = scopes.filter((scope) => !principal.scopes.includes(scope));
        return sendProblem(
          reply,
          'forbidden',
          `A key may only be issued with scopes the caller holds; not ${missing.join(', ')}.`,
        );
      }
      const issued = await merchants.issueApiKey(principal.id, scopes);
      if (!issued.ok) throw new Error('bug: an authenticated merchant that does not exist');
      return reply.code(201).send({ ...issued.value, scopes });
    },
  );

  api.get(
    '/v1/api-keys',
    {
      schema: {
        summary: 'My API keys, revoked ones too (never their secrets)',
        tags: ['merchants'],
        response: { 200: z.object({ items: z.array(apiKeySchema) }) },
      },
      config: { auth: { kinds: ['merchant'], scopes: ['api_keys:read'] } },
    },
    async (request) => {
      const listed = await merchants.listApiKeys(requirePrincipal(request, 'merchant').id);
      if (!listed.ok) throw new Error('bug: an authenticated merchant that does not exist');
      return { items: listed.value.map(apiKeyBody) };
    },
  );

  api.delete(
    '/v1/api-keys/:keyId',
    {
      schema: {
        summary: 'Revoke one of my API keys, at once',
        tags: ['merchants'],
        params: ownKeyParams,
        response: { 200: apiKeySchema },
      },
      config: { auth: { kinds: ['merchant'], scopes: ['api_keys:write'] }, idempotent: false },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request, 'merchant');
      const actor = merchantActor(principal);
      const revoked = await merchants.revokeApiKey(principal.id, request.params.keyId, actor);
      if (!revoked.ok) return sendProblem(reply, revoked.code, revoked.detail);
      return apiKeyBody(revoked.value);
    },
  );

  api.post(
    '/v1/api-keys/:keyId/rotate',
    {
      schema: {
        summary: 'Rotate one of my API keys (the new secret is shown once)',
        description: rotateDescription,
        tags: ['merchants'],
        params: ownKeyParams,
        response: { 201: rotatedSchema },
      },
      config: { auth: { kinds: ['merchant'], scopes: ['api_keys:write'] }, idempotent: false },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request, 'merchant');
      const { keyId } = request.params;
      const rotated = await merchants.rotateApiKey(principal.id, keyId, merchantActor(principal));
      if (!rotated.ok) return sendProblem(reply, rotated.code, rotated.detail);
      const { keyId: newKeyId, secret } = rotated.value;
      return reply.code(201).send({ keyId: newKeyId, secret, replacedKeyId: keyId });
    },
  );
};

/** Listing, revoking and rotating operators' admin keys (the last active one is kept). */
export const adminKeyRoutes: FastifyPluginAsyncZod<{ adminKeys: AdminKeyService }> = async (
  api,
  { adminKeys },
) => {
  const params = z.object({ keyId: keyIdSchema });

  api.get(
    '/v1/admin-keys',
    {
      schema: {
        summary: 'The admin keys, revoked ones too (never their secrets)',
        tags: ['operators'],
        response: { 200: z.object({ items: z.array(adminKeySchema) }) },
      },
      config: { auth: { kinds: ['operator'] } },
    },
    async () => ({ items: (await adminKeys.list()).map(adminKeyBody) }),
  );

  api.delete(
    '/v1/admin-keys/:keyId',
    {
      schema: {
        summary: 'Revoke an admin key, at once (not the last active one)',
        tags: ['operators'],
        params,
        response: { 200: adminKeySchema },
      },
      config: { auth: { kinds: ['operator'] }, idempotent: false },
    },
    async (request, reply) => {
      const revoked = await adminKeys.revoke(request.params.keyId);
      if (!revoked.ok) return sendProblem(reply, revoked.code, revoked.detail);
      return adminKeyBody(revoked.value);
    },
  );

  api.post(
    '/v1/admin-keys/:keyId/rotate',
    {
      schema: {
        summary: 'Rotate an admin key (the new secret is shown once)',
        description: rotateDescription,
        tags: ['operators'],
        params,
        response: { 201: rotatedSchema },
      },
      config: { auth: { kinds: ['operator'] }, idempotent: false },
    },
    async (request, reply) => {
      const { keyId } = request.params;
      const rotated = await adminKeys.rotate(keyId);
      if (!rotated.ok) return sendProblem(reply, rotated.code, rotated.detail);
      const { keyId: newKeyId, secret } = rotated.value;
      return reply.code(201).send({ keyId: newKeyId, secret, replacedKeyId: keyId });
    },
  );
};
