/**
 * The files a payout batch hands to the platform's bank: an ISO 20022 pain.001.001.09 customer
 * credit transfer initiation (one payment information block, debiting the platform's account,
 * with one credit transfer per payout) and the same payouts as CSV (RFC 4180).
 *
 * Amounts. Banks move whole cents, the ledger micro-units. A payout is therefore a whole number of
 * cents, rounded DOWN from the merchant's balance: the remainder (under one cent) stays in the
 * merchant's account and is paid with a later payout. The ledger transfer of a payout moves
 * exactly the amount in the file, so the two always agree to the micro-unit.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { microsPerUnit, parseAmount } from '@mite/protocol';
import { childrenNamed, elementAt, parseXml, textAt, type XmlElement } from './xml-reader.ts';

export const pain001Namespace = 'urn:iso:std:iso:20022:tech:xsd:pain.001.001.09';
/** Micro-units in one cent. */
export const microsPerCent = microsPerUnit / 100n;

/** The platform's own account, which the bank debits. */
export interface Debtor {
  readonly name: string;
  readonly iban: string;
  readonly bic: string;
}

export interface BankFilePayout {
  readonly payoutId: string;
  readonly merchantId: string;
  readonly holderName: string;
  readonly iban: string;
  readonly bic: string;
  /** A whole number of cents, in micro-units. */
  readonly amountMicros: bigint;
}

export interface BankFileInput {
  /** The message id (`MsgId`) and payment information id: at most 35 characters. */
  readonly batchId: string;
  /** When the file is made: `CreDtTm`, and the requested execution date (UTC). */
  readonly createdAtMs: number;
  /** ISO 4217 code of the amounts. */
  readonly currency: string;
  readonly debtor: Debtor;
  readonly payouts: readonly BankFilePayout[];
}

/** The largest whole number of cents in `micros`: what a payout of that balance pays. */
export function wholeCentsOf(micros: bigint): bigint {
  return micros - (micros % microsPerCent);
}

/** A whole-cent amount in the major unit with two decimals ("12.30"), as the bank reads it. */
export function bankAmount(micros: bigint): string {
  if (micros < 0n || micros % microsPerCent !== 0n) {
    throw new Error(`bug: a bank amount is a non-negative whole number of cents, not ${micros}`);
  }
  const cents = micros / microsPerCent;
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
}

/** A bank file amount ("12.30") in micro-units; throws if it is not one. */
export function microsOfBankAmount(text: string): bigint {
  const parsed = parseAmount(text);
  if (!parsed.ok) throw new Error(`not an amount: "${text}"`);
  return parsed.value;
}

// eslint-disable-next-line no-control-regex
const notInXml = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

/** `text` as XML character data or an attribute value (either quote). */
export function escapeXml(text: string): string {
  if (notInXml.test(text)) throw new Error('bug: a control character cannot go into XML');
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** `2026-01-02T03:04:05Z`: ISODateTime, to the second, in UTC. */
function isoDateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `<Name>text</Name>`, escaped, at an indentation depth. */
function leaf(depth: number, name: string, text: string, attributes = ''): string {
  return `${'  '.repeat(depth)}<${name}${attributes}>${escapeXml(text)}</${name}>`;
}

function open(depth: number, name: string): string {
  return `${'  '.repeat(depth)}<${name}>`;
}

function close(depth: number, name: string): string {
  return `${'  '.repeat(depth)}</${name}>`;
}

function sumOf(payouts: readonly BankFilePayout[]): bigint {
  return payouts.reduce((sum, payout) => sum + payout.amountMicros, 0n);
}

/** The unstructured remittance information of a payout's credit transfer: what its bank shows. */
export function remittanceOf(payoutId: string): string {
  return `Mite payout ${payoutId}`;
}

function creditTransfer(payout: BankFilePayout, currency: string): string[] {
  return [
    open(3, 'CdtTrfTxInf'),
    open(4, 'PmtId'),
    leaf(5, 'EndToEndId', payout.payoutId),
    close(4, 'PmtId'),
    open(4, 'Amt'),
    leaf(5, 'InstdAmt', bankAmount(payout.amountMicros), ` Ccy="${escapeXml(currency)}"`),
    close(4, 'Amt'),
    open(4, 'CdtrAgt'),
    open(5, 'FinInstnId'),
    leaf(6, 'BICFI', payout.bic),
    close(5, 'FinInstnId'),
    close(4, 'CdtrAgt'),
    open(4, 'Cdtr'),
    leaf(5, 'Nm', payout.holderName),
    close(4, 'Cdtr'),
    open(4, 'CdtrAcct'),
    open(5, 'Id'),
    leaf(6, 'IBAN', payout.iban),
    close(5, 'Id'),
    close(4, 'CdtrAcct'),
    open(4, 'RmtInf'),
    leaf(5, 'Ustrd', remittanceOf(payout.payoutId)),
    close(4, 'RmtInf'),
    close(3, 'CdtTrfTxInf'),
  ];
}

/**
 * The pain.001.001.09 document for a batch: built as text (no XML library), every value escaped.
 * The batch needs at least one payout: the schema requires a credit transfer per payment block.
 */
export function pain001Xml(input: BankFileInput): string {
  if (input.payouts.length === 0) throw new Error('bug: a bank file needs at least one payout');
  const count = String(input.payouts.length);
  const controlSum = bankAmount(sumOf(input.payouts));
  const { debtor } = input;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<Document xmlns="${pain001Namespace}">`,
    open(1, 'CstmrCdtTrfInitn'),
    open(2, 'GrpHdr'),
    leaf(3, 'MsgId', input.batchId),
    leaf(3, 'CreDtTm', isoDateTime(input.createdAtMs)),
    leaf(3, 'NbOfTxs', count),
    leaf(3, 'CtrlSum', controlSum),
    open(3, 'InitgPty'),
    leaf(4, 'Nm', debtor.name),
    close(3, 'InitgPty'),
    close(2, 'GrpHdr'),
    open(2, 'PmtInf'),
    leaf(3, 'PmtInfId', input.batchId),
    leaf(3, 'PmtMtd', 'TRF'),
    leaf(3, 'NbOfTxs', count),
    leaf(3, 'CtrlSum', controlSum),
    open(3, 'ReqdExctnDt'),
    leaf(4, 'Dt', isoDate(input.createdAtMs)),
    close(3, 'ReqdExctnDt'),
    open(3, 'Dbtr'),
    leaf(4, 'Nm', debtor.name),
    close(3, 'Dbtr'),
    open(3, 'DbtrAcct'),
    open(4, 'Id'),
    leaf(5, 'IBAN', debtor.iban),
    close(4, 'Id'),
    close(3, 'DbtrAcct'),
    open(3, 'DbtrAgt'),
    open(4, 'FinInstnId'),
    leaf(5, 'BICFI', debtor.bic),
    close(4, 'FinInstnId'),
    close(3, 'DbtrAgt'),
    leaf(3, 'ChrgBr', 'SLEV'),
    ...input.payouts.flatMap((payout) => creditTransfer(payout, input.currency)),
    close(2, 'PmtInf'),
    close(1, 'CstmrCdtTrfInitn'),
    '</Document>',
  ];
  return `${lines.join('\n')}\n`;
}

export const csvHeader = [
  'payout_id',
  'merchant_id',
  'holder_name',
  'iban',
  'bic',
  'amount',
  'currency',
] as const;

/**
 * The batch as CSV (csv-stringify): a header line, then one line per payout, CRLF line ends
 * (RFC 4180). A field is quoted when it holds a comma or a quote (the library's own rule) or any
 * line break: the library would leave a lone LF or CR bare when records end with CRLF, and
 * spreadsheets would split the line there. A field starting with =, +, -, @, tab or CR gets a
 * leading apostrophe (escape_formulas): holder names are the merchants' own text, and a spreadsheet
 * opening the file must show them, not run them as formulas (CSV injection). Ids and amounts never
 * start so; the XML file carries names unchanged.
 */
export function payoutsCsv(input: BankFileInput): string {
  const rows = [
    [...csvHeader],
    ...input.payouts.map((payout) => [
      payout.payoutId,
      payout.merchantId,
      payout.holderName,
      payout.iban,
      payout.bic,
      bankAmount(payout.amountMicros),
      input.currency,
    ]),
  ];
  return stringify(rows, {
    record_delimiter: '\r\n',
    quoted_match: /[\r\n]/,
    escape_formulas: true,
  });
}

/**
 * RFC 4180 records of `text` (csv-parse), records ending in CRLF; quoted fields may hold commas,
 * quotes and line breaks. Throws on a stray or unclosed quote and on records of unequal length.
 */
export function parseCsv(text: string): string[][] {
  return parse(text, { record_delimiter: '\r\n' });
}

/** One credit transfer of a pain.001 file, as a bank reads it. */
export interface Pain001Transaction {
  readonly endToEndId: string;
  readonly amountMicros: bigint;
  readonly currency: string;
  readonly creditorName: string;
  readonly iban: string;
  readonly bic: string;
}

export interface Pain001Summary {
  readonly messageId: string;
  readonly groupCount: number;
  readonly groupControlSumMicros: bigint;
  readonly paymentCount: number;
  readonly paymentControlSumMicros: bigint;
  readonly debtorIban: string;
  readonly transactions: readonly Pain001Transaction[];
}

function transactionOf(element: XmlElement): Pain001Transaction {
  const amount = elementAt(element, 'Amt/InstdAmt');
  return {
    endToEndId: textAt(element, 'PmtId/EndToEndId'),
    amountMicros: microsOfBankAmount(amount.text),
    currency: amount.attributes.Ccy ?? '',
    creditorName: textAt(element, 'Cdtr/Nm'),
    iban: textAt(element, 'CdtrAcct/Id/IBAN'),
    bic: textAt(element, 'CdtrAgt/FinInstnId/BICFI'),
  };
}

/**
 * Reads a pain.001.001.09 file back (one payment information block, as the platform writes):
 * throws if it is not well-formed XML or lacks an element the reading needs.
 */
export function readPain001(xml: string): Pain001Summary {
  const document = parseXml(xml);
  if (document.name !== 'Document' || document.attributes.xmlns !== pain001Namespace) {
    throw new Error('not a pain.001.001.09 document');
  }
  const [initiation] = childrenNamed(document, 'CstmrCdtTrfInitn');
  if (initiation === undefined) throw new Error('no CstmrCdtTrfInitn');
  const [payment, ...more] = childrenNamed(initiation, 'PmtInf');
  if (payment === undefined || more.length > 0) throw new Error('expected one PmtInf');
  return {
    messageId: textAt(initiation, 'GrpHdr/MsgId'),
    groupCount: Number(textAt(initiation, 'GrpHdr/NbOfTxs')),
    groupControlSumMicros: microsOfBankAmount(textAt(initiation, 'GrpHdr/CtrlSum')),
    paymentCount: Number(textAt(payment, 'NbOfTxs')),
    paymentControlSumMicros: microsOfBankAmount(textAt(payment, 'CtrlSum')),
    debtorIban: textAt(payment, 'DbtrAcct/Id/IBAN'),
    transactions: childrenNamed(payment, 'CdtTrfTxInf').map(transactionOf),
  };
}
