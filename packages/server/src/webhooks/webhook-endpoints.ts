import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { PlatformSchema } from '../db/schema.ts';
import type { PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import { fail, ok, type Result } from '../result.ts';
import { literalDestinationProblem } from './network-guard.ts';
import { ownedBy, webhookEventTypes, type WebhookEventType } from './outbox.ts';
import { sealWebhookSecret } from './sealed-webhook-secrets.ts';

/** Enabled endpoints one merchant may have: every event is delivered to each of them. */
export const webhookEndpointsPerMerchantMax = 16;
/** Longest endpoint URL accepted. */
export const webhookUrlLengthMax = 2048;
/** Random bytes in a signing secret (Standard Webhooks: between 24 and 64). */
const secretBytes = 24;
/** The detail of a notFound for an endpoint that is not the merchant's (or not at all). */
export const endpointNotFound = 'No such webhook endpoint.';

export interface WebhookEndpoint {
  readonly id: string;
  readonly url: string;
  readonly eventTypes: readonly WebhookEventType[];
  readonly createdAtMs: number;
}

export interface WebhookEndpointsDeps {
  readonly db: Kysely<PlatformSchema>;
  readonly clock: () => number;
  /** Seals each signing secret before it is stored (sealed-webhook-secrets.ts). */
  readonly cipher: PersonalDataCipher;
  /** Whether an endpoint may name a loopback or private address (network-guard.ts). */
  readonly allowPrivateNetworks: boolean;
}

/** Merchants' webhook endpoints: where their events go, and the secret that signs them. */
export function createWebhookEndpoints(deps: WebhookEndpointsDeps) {
  const { db, clock, cipher, allowPrivateNetworks } = deps;

  /** A new endpoint; its signing secret is returned here only, and stored sealed. */
  async function createEndpoint(
    merchantId: string | null,
    input: { readonly url: string; readonly eventTypes: readonly WebhookEventType[] },
  ): Promise<Result<{ endpoint: WebhookEndpoint; secret: string }, 'validationFailed'>> {
    const urlProblem = endpointUrlProblem(input.url, allowPrivateNetworks);
    if (urlProblem !== undefined) return fail('validationFailed', urlProblem);
    const eventTypes = [...new Set(input.eventTypes)].sort();
    if (eventTypes.length === 0) {
      return fail('validationFailed', 'an endpoint subscribes to one event type at least');
    }
    const unknown = eventTypes.find((type) => !isWebhookEventType(type));
    if (unknown !== undefined) return fail('validationFailed', `unknown event type ${unknown}`);
    const { count } = await db
      .selectFrom('webhook_endpoints')
      .select((eb) => eb.fn.countAll().as('count'))
      .where(ownedBy(merchantId))
      .where('disabled_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(count) >= webhookEndpointsPerMerchantMax) {
      return fail(
        'validationFailed',
        `a merchant has at most ${webhookEndpointsPerMerchantMax} endpoints: delete one first`,
      );
    }
    const endpoint: WebhookEndpoint = {
      id: `whe_${uuidv7()}`,
      url: input.url,
      eventTypes,
      createdAtMs: clock(),
    };
    const secret = `whsec_${randomBytes(secretBytes).toString('base64')}`;
    await db
      .insertInto('webhook_endpoints')
      .values({
        id: endpoint.id,
        merchant_id: merchantId,
        url: endpoint.url,
        secret: sealWebhookSecret(cipher, endpoint.id, secret),
        event_types: JSON.stringify(eventTypes),
        created_at: BigInt(endpoint.createdAtMs),
        disabled_at: null,
      })
      .execute();
    return ok({ endpoint, secret });
  }

  /** The merchant's enabled endpoints, oldest first. */
  async function listEndpoints(merchantId: string | null): Promise<WebhookEndpoint[]> {
    const rows = await db
      .selectFrom('webhook_endpoints')
      .select(['id', 'url', 'event_types', 'created_at'])
      .where(ownedBy(merchantId))
      .where('disabled_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      url: row.url,
      eventTypes: (JSON.parse(row.event_types) as string[]).filter(isWebhookEventType),
      createdAtMs: Number(row.created_at),
    }));
  }

  /**
   * Stops deliveries to an endpoint: it receives no new events, and its pending deliveries are
   * given up. Its attempts stay listed. Disabling it again is not an error.
   */
  async function disableEndpoint(
    merchantId: string | null,
    endpointId: string,
  ): Promise<Result<{ endpointId: string }, 'notFound'>> {
    const nowMs = BigInt(clock());
    return db.transaction().execute(async (tx) => {
      const endpoint = await tx
        .selectFrom('webhook_endpoints')
        .select('disabled_at')
        .where('id', '=', endpointId)
        .where(ownedBy(merchantId))
        .executeTakeFirst();
      if (endpoint === undefined) return fail('notFound', endpointNotFound);
      if (endpoint.disabled_at !== null) return ok({ endpointId });
      await tx
        .updateTable('webhook_endpoints')
        .set({ disabled_at: nowMs })
        .where('id', '=', endpointId)
        .where('disabled_at', 'is', null)
        .execute();
      await tx
        .updateTable('webhook_deliveries')
        .set({ state: 'failed', last_error: 'endpoint disabled', updated_at: nowMs })
        .where('endpoint_id', '=', endpointId)
        .where('state', '=', 'pending')
        .execute();
      return ok({ endpointId });
    });
  }

  return { createEndpoint, listEndpoints, disableEndpoint };
}

function isWebhookEventType(type: string): type is WebhookEventType {
  return (webhookEventTypes as readonly string[]).includes(type);
}

/** Why `url` cannot be an endpoint, if it cannot. */
function endpointUrlProblem(url: string, allowPrivateNetworks: boolean): string | undefined {
  if (url.length > webhookUrlLengthMax) {
    return `an endpoint URL has at most ${webhookUrlLengthMax} characters`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'the endpoint URL is not a valid absolute URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return 'an endpoint URL is http: or https:';
  }
  if (parsed.username !== '' || parsed.password !== '') {
    return 'an endpoint URL carries no user name or password';
  }
  return allowPrivateNetworks ? undefined : literalDestinationProblem(parsed);
}
