/**
 * Bank details as the payout file needs them, checked before they are stored: an IBAN (ISO 13616,
 * mod-97 check digits), a BIC (ISO 9362, as pain.001.001.09's BICFI pattern has it) and an account
 * holder's name (pain.001's Max140Text, without characters XML cannot carry).
 */
import { type ExplainedFailure, ok, type Success } from '../result.ts';

export interface BankDetails {
  readonly holderName: string;
  readonly iban: string;
  readonly bic: string;
}

/** Longest account holder name: pain.001's `Nm` is Max140Text. */
export const holderNameLengthMax = 140;

const ibanPattern = /^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/;
const bicPattern = /^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/;
/** C0 and C1 controls (tabs and newlines included) and unpaired surrogates: not in a name. */
const unfitCharacters =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** An IBAN as written by people ("de89 3704 0044 0532 0130 00") in its electronic form. */
export function normalizeIban(text: string): string {
  return text.replace(/[\s-]/g, '').toUpperCase();
}

/** Whether `iban` (electronic form) is well formed and its check digits are right (mod 97 = 1). */
export function ibanIsValid(iban: string): boolean {
  if (!ibanPattern.test(iban)) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const character of rearranged) {
    // Letters count as two digits, A = 10 ... Z = 35.
    const value = Number.parseInt(character, 36);
    remainder = (remainder * (value > 9 ? 100 : 10) + value) % 97;
  }
  return remainder === 1;
}

export function bicIsValid(bic: string): boolean {
  return bicPattern.test(bic);
}

/** Which part of a set of bank details is unusable. */
export type BankDetailsDefect = 'badHolderName' | 'badIban' | 'badBic';

/** The details in the form they are stored, or why they are unusable, in words for the merchant. */
export function checkBankDetails(
  input: BankDetails,
): Success<BankDetails> | ExplainedFailure<BankDetailsDefect> {
  const holderName = input.holderName.trim();
  if (holderName.length === 0 || holderName.length > holderNameLengthMax) {
    return defect('badHolderName', `the holder name has 1 to ${holderNameLengthMax} characters`);
  }
  if (unfitCharacters.test(holderName)) {
    return defect('badHolderName', 'the holder name has characters a bank file cannot carry');
  }
  const iban = normalizeIban(input.iban);
  if (!ibanIsValid(iban)) {
    return defect('badIban', 'the IBAN is malformed or its check digits are wrong');
  }
  const bic = input.bic.replace(/\s/g, '').toUpperCase();
  if (!bicIsValid(bic)) return defect('badBic', 'the BIC has 8 or 11 letters and digits');
  return ok({ holderName, iban, bic });
}

function defect(code: BankDetailsDefect, detail: string): ExplainedFailure<BankDetailsDefect> {
  return { ok: false, code, detail };
}
