/**
 * Retention of webhook events: an event, its deliveries and their attempts are deleted once the
 * event is older than `webhookEventRetentionMs`, so that the outbox does not grow forever and
 * what it says about payers (pseudonyms, amounts, resources) is not kept longer than it serves.
 * Until then an event can be listed and replayed. An event with a delivery still pending is kept
 * until that delivery is settled. Run by the platform's background jobs, on every node: two
 * purges at once delete the same rows, harmlessly.
 */
import { sql } from 'kysely';
import { keysetPages, type ReadPage } from '../db/keyset-pages.ts';
import type { PlatformDb } from '../db/platform-db.ts';

/** How long events are kept (as long as Stripe keeps them). */
export const webhookEventRetentionMs = 30 * 24 * 60 * 60 * 1000;
/** Events deleted per transaction, so that no purge holds the database for long. */
export const webhookPurgeBatchMax = 500;
/** Merchants read per query while the purge goes through them, owner by owner. */
export const webhookPurgeMerchantPageRows = 500;

export interface WebhookRetentionDeps {
  readonly platform: PlatformDb;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  /** Merchants read per query; webhookPurgeMerchantPageRows. */
  readonly merchantPageRows?: number;
}

export interface WebhookRetention {
  /** Deletes the events past their retention, with their deliveries and attempts: how many. */
  purgeExpired(): Promise<number>;
}

export function createWebhookRetention(deps: WebhookRetentionDeps): WebhookRetention {
  const db = deps.platform.db;

  /**
   * One transaction: up to webhookPurgeBatchMax of one owner's oldest expired events that may go.
   * One owner at a time, so that the events' index by (merchant, time) finds them: the purge
   * needs no index of its own on a table written at every purchase.
   */
  async function purgeBatch(owner: string | null, cutoff: bigint): Promise<number> {
    return db.transaction().execute(async (tx) => {
      const rows = await tx
        .selectFrom('webhook_events as e')
        .select('e.id')
        .where('e.merchant_id', owner === null ? 'is' : '=', owner)
        .where('e.created_at', '<', cutoff)
        // `state || ''`: SQLite would otherwise walk the index of deliveries by state (every
        // pending one, for each event) instead of looking the event's deliveries up by key.
        .where(
          sql<boolean>`not exists (select 1 from webhook_deliveries d
            where d.event_id = e.id and d.state || '' = 'pending')`,
        )
        .orderBy('e.created_at')
        .limit(webhookPurgeBatchMax)
        .execute();
      const ids = rows.map((row) => row.id);
      if (ids.length === 0) return 0;
      // Children first: attempts reference deliveries, which reference events.
      await tx.deleteFrom('webhook_attempts').where('event_id', 'in', ids).execute();
      await tx.deleteFrom('webhook_deliveries').where('event_id', 'in', ids).execute();
      await tx.deleteFrom('webhook_events').where('id', 'in', ids).execute();
      return ids.length;
    });
  }

  /** Deletes one owner's expired events, a batch per transaction: how many. */
  async function purgeOwner(owner: string | null, cutoff: bigint): Promise<number> {
    let deleted = 0;
    for (;;) {
      const batch = await purgeBatch(owner, cutoff);
      deleted += batch;
      if (batch < webhookPurgeBatchMax) return deleted;
    }
  }

  const merchantPage: ReadPage<{ id: string }> = (afterId, pageRows) =>
    db
      .selectFrom('merchants')
      .select('id')
      .$if(afterId !== undefined, (query) => query.where('id', '>', afterId ?? ''))
      .orderBy('id')
      .limit(pageRows)
      .execute();

  return {
    async purgeExpired() {
      const cutoff = BigInt(deps.clock() - webhookEventRetentionMs);
      // The operator's own events (top-ups) belong to no merchant.
      let deleted = await purgeOwner(null, cutoff);
      const pageRows = deps.merchantPageRows ?? webhookPurgeMerchantPageRows;
      for await (const merchants of keysetPages(merchantPage, pageRows)) {
        for (const merchant of merchants) deleted += await purgeOwner(merchant.id, cutoff);
      }
      return deleted;
    },
  };
}
