import type { CommittedState } from './state-machine.ts';
import type { LedgerStorage } from './storage.ts';
import type { AccountRecord, PendingStatus, TransferRecord, VerifyReport } from './types.ts';

/** Problems listed in full; past this many the report says how many more there were. */
const problemsListedMax = 100;

interface Balances {
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
}

const balanceNames = ['debitsPending', 'debitsPosted', 'creditsPending', 'creditsPosted'] as const;

class Problems {
  readonly listed: string[] = [];
  private count = 0;

  add(problem: string): void {
    this.count++;
    if (this.listed.length < problemsListedMax) this.listed.push(problem);
  }

  report(): VerifyReport {
    const more = this.count - this.listed.length;
    const problems = more > 0 ? [...this.listed, `... and ${more} more problems`] : this.listed;
    return { ok: this.count === 0, problems };
  }
}

/**
 * Checks every invariant of DESIGN.md section 3 against the store: per ledger, debits equal
 * credits; no limited account is past its limit; every pending transfer is resolved at most once
 * and its status agrees with its resolutions; balances equal the fold of the transfers; and, when
 * given, the engine's in-memory balances equal the stored ones.
 */
export async function verifyStore(
  storage: LedgerStorage,
  memory?: CommittedState,
): Promise<VerifyReport> {
  const problems = new Problems();
  const accounts = await storage.scanAccounts();
  const statuses = await storage.scanPendingStatuses();
  const byId = new Map(accounts.map((account) => [account.id, account]));
  const folded = await foldTransfers(storage, byId, statuses, problems);
  checkLedgerSums(accounts, problems);
  for (const account of accounts) {
    checkLimits(account, problems);
    checkFold(account, folded.get(account.id), problems);
    if (memory !== undefined) checkMemory(account, memory.accounts.get(account.id), problems);
  }
  if (memory !== undefined && memory.accounts.size !== accounts.length) {
    problems.add(`memory holds ${memory.accounts.size} accounts, the store ${accounts.length}`);
  }
  if (memory !== undefined) checkOpenPendings(memory, statuses, problems);
  return problems.report();
}

async function foldTransfers(
  storage: LedgerStorage,
  accounts: Map<bigint, AccountRecord>,
  statuses: Map<bigint, PendingStatus>,
  problems: Problems,
): Promise<Map<bigint, Balances>> {
  const folded = new Map<bigint, Balances>();
  const balancesOf = (id: bigint): Balances => {
    let balances = folded.get(id);
    if (balances === undefined) {
      balances = { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };
      folded.set(id, balances);
    }
    return balances;
  };
  const pendings = new Map<bigint, TransferRecord>();
  const resolutions = new Map<bigint, TransferRecord>();
  for await (const chunk of storage.scanTransfers()) {
    for (const transfer of chunk) {
      checkTransferAccounts(transfer, accounts, problems);
      const dr = balancesOf(transfer.debitAccountId);
      const cr = balancesOf(transfer.creditAccountId);
      const { flags, amount } = transfer;
      if (flags.pending) {
        pendings.set(transfer.id, transfer);
        if (statuses.get(transfer.id) === 'pending') {
          dr.debitsPending += amount;
          cr.creditsPending += amount;
        }
      } else if (flags.postPending || flags.voidPending) {
        checkResolution(transfer, pendings, resolutions, problems);
        if (flags.postPending) {
          dr.debitsPosted += amount;
          cr.creditsPosted += amount;
        }
      } else {
        dr.debitsPosted += amount;
        cr.creditsPosted += amount;
      }
    }
  }
  checkStatuses(pendings, resolutions, statuses, problems);
  return folded;
}

function checkTransferAccounts(
  transfer: TransferRecord,
  accounts: Map<bigint, AccountRecord>,
  problems: Problems,
): void {
  const dr = accounts.get(transfer.debitAccountId);
  const cr = accounts.get(transfer.creditAccountId);
  if (dr === undefined || cr === undefined) {
    problems.add(`transfer ${transfer.id} names an account that does not exist`);
  } else if (dr.ledger !== transfer.ledger || cr.ledger !== transfer.ledger) {
    problems.add(`transfer ${transfer.id} crosses ledgers`);
  }
}

function checkResolution(
  transfer: TransferRecord,
  pendings: Map<bigint, TransferRecord>,
  resolutions: Map<bigint, TransferRecord>,
  problems: Problems,
): void {
  const pending = pendings.get(transfer.pendingId);
  if (pending === undefined) {
    problems.add(
      `transfer ${transfer.id} resolves ${transfer.pendingId}, no earlier pending transfer`,
    );
    return;
  }
  if (resolutions.has(pending.id)) {
    problems.add(`pending transfer ${pending.id} is resolved more than once`);
  }
  resolutions.set(pending.id, transfer);
  if (transfer.flags.postPending && transfer.amount > pending.amount) {
    problems.add(`transfer ${transfer.id} posts more than pending transfer ${pending.id} holds`);
  }
}

function checkStatuses(
  pendings: Map<bigint, TransferRecord>,
  resolutions: Map<bigint, TransferRecord>,
  statuses: Map<bigint, PendingStatus>,
  problems: Problems,
): void {
  for (const id of statuses.keys()) {
    if (!pendings.has(id)) problems.add(`pending status for ${id}, which is no pending transfer`);
  }
  for (const id of pendings.keys()) {
    const status = statuses.get(id);
    const resolution = resolutions.get(id);
    const expected =
      resolution === undefined
        ? ['pending', 'expired']
        : resolution.flags.postPending
          ? ['posted']
          : ['voided'];
    if (status === undefined || !expected.includes(status)) {
      problems.add(
        `pending transfer ${id} has status ${status ?? 'none'}, expected ${expected.join(' or ')}`,
      );
    }
  }
}

function checkLedgerSums(accounts: AccountRecord[], problems: Problems): void {
  const sums = new Map<number, Balances>();
  for (const account of accounts) {
    const sum = sums.get(account.ledger) ?? {
      debitsPending: 0n,
      debitsPosted: 0n,
      creditsPending: 0n,
      creditsPosted: 0n,
    };
    for (const name of balanceNames) sum[name] += account[name];
    sums.set(account.ledger, sum);
  }
  for (const [ledger, sum] of sums) {
    if (sum.debitsPosted !== sum.creditsPosted) {
      problems.add(
        `ledger ${ledger}: posted debits ${sum.debitsPosted} != credits ${sum.creditsPosted}`,
      );
    }
    if (sum.debitsPending !== sum.creditsPending) {
      problems.add(
        `ledger ${ledger}: pending debits ${sum.debitsPending} != credits ${sum.creditsPending}`,
      );
    }
  }
}

function checkLimits(account: AccountRecord, problems: Problems): void {
  const debits = account.debitsPending + account.debitsPosted;
  const credits = account.creditsPending + account.creditsPosted;
  if (account.flags.debitsMustNotExceedCredits && debits > account.creditsPosted) {
    problems.add(
      `account ${account.id}: debits ${debits} exceed posted credits ${account.creditsPosted}`,
    );
  }
  if (account.flags.creditsMustNotExceedDebits && credits > account.debitsPosted) {
    problems.add(
      `account ${account.id}: credits ${credits} exceed posted debits ${account.debitsPosted}`,
    );
  }
}

function checkFold(account: AccountRecord, folded: Balances | undefined, problems: Problems): void {
  for (const name of balanceNames) {
    const expected = folded?.[name] ?? 0n;
    if (account[name] !== expected) {
      problems.add(
        `account ${account.id}: ${name} is ${account[name]}, its transfers sum to ${expected}`,
      );
    }
  }
}

function checkMemory(
  stored: AccountRecord,
  memory: AccountRecord | undefined,
  problems: Problems,
): void {
  if (memory === undefined) {
    problems.add(`account ${stored.id} is stored but not in memory`);
    return;
  }
  for (const name of balanceNames) {
    if (memory[name] !== stored[name]) {
      problems.add(
        `account ${stored.id}: ${name} is ${memory[name]} in memory, ${stored[name]} stored`,
      );
    }
  }
}

function checkOpenPendings(
  memory: CommittedState,
  statuses: Map<bigint, PendingStatus>,
  problems: Problems,
): void {
  let open = 0;
  for (const [id, status] of statuses) {
    if (status !== 'pending') continue;
    open++;
    if (!memory.openPendings.has(id))
      problems.add(`pending transfer ${id} is open but not in memory`);
  }
  if (open !== memory.openPendings.size) {
    problems.add(
      `memory holds ${memory.openPendings.size} open pending transfers, the store ${open}`,
    );
  }
}
