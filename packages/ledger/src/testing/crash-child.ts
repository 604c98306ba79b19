/**
 * The crash test's victim: opens a ledger, then commits transfers from several concurrent
 * submitters until it is killed, printing `ack <id>` for every transfer the engine acknowledged.
 * stdout is a pipe, and Node writes to pipes synchronously on Linux, so a printed ack has left
 * the process before the next instruction runs.
 */
import { openLedger } from '../open-ledger.ts';
import type { Transfer } from '../types.ts';

const [url, runArg] = process.argv.slice(2);
if (url === undefined || runArg === undefined) throw new Error('usage: crash-child URL RUN');
const run = BigInt(runArg);
const walletCount = 20n;
const submitters = 8;
const batchSize = 16;

const ledger = await openLedger({ url });
const wallets = Array.from({ length: Number(walletCount) }, (_, i) => ({
  id: 100n + BigInt(i),
  ledger: 1,
  code: 1,
  flags: { debitsMustNotExceedCredits: true },
}));
await ledger.createAccounts([{ id: 1n, ledger: 1, code: 1 }, ...wallets]);
let next = run * 1_000_000_000n;
const fund: Transfer[] = wallets.map((wallet) => ({
  id: ++next,
  debitAccountId: 1n,
  creditAccountId: wallet.id,
  amount: 1_000_000n,
  ledger: 1,
  code: 1,
}));
await ledger.createTransfers(fund);
process.stdout.write('ready\n');

function randomWallet(): bigint {
  return 100n + BigInt(Math.floor(Math.random() * Number(walletCount)));
}

function batch(): Transfer[] {
  const transfers: Transfer[] = [];
  for (let i = 0; i < batchSize; i++) {
    const dr = randomWallet();
    const cr = dr === 100n ? 101n : 100n;
    const id = ++next;
    const pending = i % 4 === 0;
    transfers.push({
      id,
      debitAccountId: dr,
      creditAccountId: cr,
      amount: BigInt(1 + Math.floor(Math.random() * 50)),
      ledger: 1,
      code: 1,
      flags: pending ? { pending: true } : {},
      ...(pending ? { timeoutSeconds: 1 } : {}),
    });
    if (pending && i % 8 === 0) {
      transfers.push({
        id: ++next,
        debitAccountId: 0n,
        creditAccountId: 0n,
        amount: 0n,
        ledger: 0,
        code: 0,
        pendingId: id,
        flags: { postPending: true },
      });
    }
  }
  return transfers;
}

async function submitter(): Promise<never> {
  for (;;) {
    const transfers = batch();
    const results = await ledger.createTransfers(transfers);
    const acks = transfers.filter((_, i) => results[i] === 'ok').map((t) => `ack ${t.id}\n`);
    process.stdout.write(acks.join(''));
  }
}

await Promise.all(Array.from({ length: submitters }, submitter));
