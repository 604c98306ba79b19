/** The public list of token keys, which clients blind against and merchants verify with. */
import { formatLedgerAmount } from '@mite/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TokenKeys } from './token-keys.ts';

/** How long clients and caches may keep the list: keys are announced days before they are used. */
export const tokenKeysMaxAgeSeconds = 300;

const base64url = (value: bigint): string => {
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex').toString('base64url');
};

export const tokenKeyRoutes: FastifyPluginAsyncZod<{ tokenKeys: TokenKeys }> = async (
  api,
  { tokenKeys },
) => {
  api.get(
    '/v1/token-keys',
    {
      schema: {
        summary: 'The keys that sign tokens',
        description:
          'Every key whose tokens are still taken, the same for every client: one RSA key ' +
          'per denomination (a power of two of micro-units) in each keyset, for RFC 9474 ' +
          'RSABSSA-SHA384-PSS-Deterministic blind signatures. A key id is the base64url ' +
          'SHA-256 of the key\u2019s SPKI (DER): check it before blinding. Tokens of a key are ' +
          'issued from `issueFrom` to `issueUntil` and deposited until `redeemUntil`; the next ' +
          'keyset is listed 7 days before it starts.',
        tags: ['tokens'],
        response: {
          200: z.object({
            algorithm: z.literal('RSABSSA-SHA384-PSS-Deterministic'),
            keys: z.array(
              z.object({
                keyId: z.string(),
                keyset: z.string(),
                denomination: z.string().describe('In currency units, e.g. "0.000064"'),
                publicKey: z.object({ kty: z.literal('RSA'), n: z.string(), e: z.string() }),
                spki: z.string().describe('The public key, SPKI (DER), base64url'),
                issueFrom: z.string(),
                issueUntil: z.string(),
                redeemUntil: z.string(),
              }),
            ),
          }),
        },
      },
      config: { auth: 'public' },
    },
    async (_request, reply) => {
      const keys = await tokenKeys.publishedKeys();
      reply.header('cache-control', `public, max-age=${tokenKeysMaxAgeSeconds}`);
      return {
        algorithm: 'RSABSSA-SHA384-PSS-Deterministic' as const,
        keys: keys.map((key) => ({
          keyId: key.keyId,
          keyset: key.keyset,
          denomination: formatLedgerAmount(key.denominationMicros),
          publicKey: {
            kty: 'RSA' as const,
            n: base64url(key.publicKey.n),
            e: base64url(key.publicKey.e),
          },
          spki: key.spki,
          issueFrom: new Date(key.issueFromMs).toISOString(),
          issueUntil: new Date(key.issueUntilMs).toISOString(),
          redeemUntil: new Date(key.redeemUntilMs).toISOString(),
        })),
      };
    },
  );
};
