/**
 * Everything Mite holds about one user, for the user (DESIGN.md section 7, "Rights"; issue 14
 * item 5's export): one section per platform table that holds rows about the user, named as the
 * table, plus the wallet's balance and its movements from the ledger. The email is decrypted;
 * secrets and other people's data are left out (user-export-reads.ts says which). Purchases whose
 * details are past their retention show the amount, merchant and times without the offer and
 * resource, which are no longer held.
 *
 * Tables are read a page at a time where a user may have many rows, so that no query holds a
 * table; the export is built in memory, which bounds it by what one person did, not by the
 * platform's size.
 */
import { currency, formatLedgerAmount } from '@mite/protocol';
import type { UserService } from '../auth/user-service.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import { normaliseEmail, type PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import { type DataKeyring, openUserField } from '../privacy/data-keys.ts';
import { birthDatePurpose } from '../limits/limit-profiles.ts';
import { openCardLast4 } from '../funding/topup-service.ts';
import { invitationLookupPurpose } from '../staff/merchant-invitations.ts';
import type { WalletMovement, WalletMovements } from '../wallets/wallet-movements.ts';
import type { WalletService } from '../wallets/wallet-service.ts';
import { exportRow } from './export-values.ts';
import * as reads from './user-export-reads.ts';

/** Wallet movements read per call of the ledger's history. */
export const exportMovementPageRows = 500;

export type ExportRow = Readonly<Record<string, unknown>>;

export interface UserExport {
  readonly exportedAt: string;
  readonly userId: string;
  /** Section name (a table's, or `wallet`, `wallet_movements`) to its rows. */
  readonly sections: Readonly<Record<string, readonly ExportRow[]>>;
}

export interface UserExportDeps {
  readonly platform: PlatformDb;
  readonly users: UserService;
  readonly wallets: WalletService;
  readonly movements: WalletMovements;
  /** Finds invitations sent to the user's email by their lookup tag. */
  readonly cipher: PersonalDataCipher;
  /** Opens the fields sealed under the user's data key (a top-up's card digits). */
  readonly keyring: Pick<DataKeyring, 'existingKeyFor'>;
  readonly clock: () => number;
}

export function createUserExport(deps: UserExportDeps) {
  const { db } = deps.platform;

  async function movementsOf(walletAccountId: bigint): Promise<WalletMovement[]> {
    const all: WalletMovement[] = [];
    let beforeNs: bigint | undefined;
    for (;;) {
      // One movement more than the page, as the wallet's route asks: it tells that more follow.
      const read = await deps.movements.list(walletAccountId, {
        limit: exportMovementPageRows + 1,
        ...(beforeNs === undefined ? {} : { beforeNs }),
      });
      const page = read.slice(0, exportMovementPageRows);
      all.push(...page);
      if (read.length <= exportMovementPageRows) return all;
      beforeNs = page.at(-1)?.recordedAtNs;
    }
  }

  async function walletSections(walletAccountId: bigint) {
    const balance = await deps.wallets.balance(walletAccountId);
    const movements = await movementsOf(walletAccountId);
    return {
      wallet: [
        {
          account_id: walletAccountId.toString(),
          balance: formatLedgerAmount(balance?.availableMicros ?? 0n),
          reserved: formatLedgerAmount(balance?.reservedMicros ?? 0n),
          currency,
        },
      ],
      wallet_movements: movements.map((movement) => ({
        transfer_id: movement.transferId.toString(),
        direction: movement.direction,
        amount: formatLedgerAmount(movement.amountMicros),
        kind: movement.kind,
        payment_id: movement.paymentId,
        merchant_name: movement.merchantName,
        at: new Date(Number(movement.recordedAtNs / 1_000_000n)).toISOString(),
      })),
    };
  }

  /** The user's export; undefined when there is no such user. */
  async function exportFor(userId: string): Promise<UserExport | undefined> {
    const profile = await deps.users.profile(userId);
    const user = await db
      .selectFrom('users')
      .select(['id', 'wallet_account_id', 'created_at', 'disabled_at', 'birth_date_ciphertext'])
      .select(['birth_date_declared_at', 'last_active_at', 'reactivated_at'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (profile === undefined || user === undefined) return undefined;
    const payments = await reads.paymentsOf(db, userId);
    const topUps = await Promise.all(
      (await reads.topUpsOf(db, userId)).map(async (topUp): Promise<Record<string, unknown>> => ({
        ...topUp,
        card_last4: await openCardLast4(deps.keyring, {
          id: String(topUp.id),
          user_id: userId,
          card_last4: topUp.card_last4 === null ? null : String(topUp.card_last4),
        }),
      })),
    );
    const stored: Record<string, Record<string, unknown>[]> = {
      users: [
        {
          id: user.id,
          email: profile.email,
          wallet_account_id: user.wallet_account_id,
          created_at: user.created_at,
          disabled_at: user.disabled_at,
          birth_date:
            user.birth_date_ciphertext === null
              ? null
              : await openUserField(
                  deps.keyring,
                  userId,
                  user.birth_date_ciphertext,
                  birthDatePurpose,
                ),
          birth_date_declared_at: user.birth_date_declared_at,
          last_active_at: user.last_active_at,
          reactivated_at: user.reactivated_at,
        },
      ],
      sessions: await reads.sessionsOf(db, userId),
      payments,
      refunds: await reads.refundsOf(
        db,
        payments.map((payment) => String(payment.id)),
      ),
      topups: topUps,
      token_withdrawals: await reads.tokenWithdrawalsOf(db, userId),
      payment_sessions: await reads.paymentSessionsOf(db, userId),
      policy_decisions: await reads.policyDecisionsOf(db, userId),
      limit_changes: await reads.limitChangesOf(db, userId),
      guardian_consents: await reads.guardianConsentsOf(db, userId),
      ...(await reads.smallTablesOf(db, userId)),
      ...(await reads.redemptionsOf(db, userId)),
      merchant_invitations: await reads.invitationsOf(
        db,
        userId,
        deps.cipher.lookupTag(normaliseEmail(profile.email), invitationLookupPurpose),
      ),
      personal_data_views: await reads.personalDataViewsOf(
        db,
        userId,
        topUps.map((topUp) => String(topUp.id)),
      ),
      idempotency_records: await reads.idempotencyRecordsOf(db, userId),
    };
    const sections: Record<string, readonly ExportRow[]> = {
      ...(await walletSections(BigInt(user.wallet_account_id))),
    };
    for (const [name, rows] of Object.entries(stored)) sections[name] = rows.map(exportRow);
    return { exportedAt: new Date(deps.clock()).toISOString(), userId, sections };
  }

  return { exportFor };
}

export type UserExporter = ReturnType<typeof createUserExport>;
