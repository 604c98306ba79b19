import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bicIsValid, checkBankDetails, ibanIsValid, normalizeIban } from './bank-details.ts';

describe('bank details', () => {
  it('accepts IBANs whose check digits are right (mod 97 = 1)', () => {
    for (const iban of [
      'DE89370400440532013000',
      'GB82WEST12345698765432',
      'FR1420041010050500013M02606',
      'NL91ABNA0417164300',
      'BE68539007547034',
    ]) {
      assert.ok(ibanIsValid(iban), iban);
    }
  });

  it('refuses IBANs with a wrong check digit, a typo or a bad shape', () => {
    for (const iban of [
      'DE88370400440532013000', // check digits off by one
      'DE89370400440532013001', // a typo in the account number
      'GB82WEST12345698765423', // two digits swapped
      'de89370400440532013000', // not in electronic form
      'DE8937040044', // too short
      '1289370400440532013000', // no country
      'DE89 3704 0044 0532 0130 00', // spaces: normalise first
    ]) {
      assert.ok(!ibanIsValid(iban), iban);
    }
  });

  it('normalises an IBAN as people write it', () => {
    assert.equal(normalizeIban(' de89 3704 0044-0532 0130 00 '), 'DE89370400440532013000');
  });

  it('accepts 8- and 11-character BICs only', () => {
    assert.ok(bicIsValid('DEUTDEFF'));
    assert.ok(bicIsValid('DEUTDEFF500'));
    assert.ok(bicIsValid('NWBKGB2L'));
    assert.ok(!bicIsValid('DEUTDEF'));
    assert.ok(!bicIsValid('DEUTDEFF5'));
    assert.ok(!bicIsValid('DEUT1EFF')); // the country is letters
    assert.ok(!bicIsValid('deutdeff'));
  });

  it('checks a whole set of details and returns it normalised', () => {
    const checked = checkBankDetails({
      holderName: '  Ada & Co  ',
      iban: 'gb82 west 1234 5698 7654 32',
      bic: 'nwbk gb2l',
    });
    assert.deepEqual(checked, {
      ok: true,
      value: { holderName: 'Ada & Co', iban: 'GB82WEST12345698765432', bic: 'NWBKGB2L' },
    });
    const base = { holderName: 'Ada', iban: 'DE89370400440532013000', bic: 'COBADEFFXXX' };
    assert.match(reasonOf({ ...base, holderName: '   ' }), /holder name/);
    assert.match(reasonOf({ ...base, holderName: 'x'.repeat(141) }), /holder name/);
    assert.match(reasonOf({ ...base, holderName: 'Ada\nLovelace' }), /cannot carry/);
    assert.match(reasonOf({ ...base, holderName: 'Ada \ud800' }), /cannot carry/);
    assert.match(reasonOf({ ...base, iban: 'DE00370400440532013000' }), /IBAN/);
    assert.match(reasonOf({ ...base, bic: 'COBA' }), /BIC/);
    assert.ok(checkBankDetails({ ...base, holderName: 'Zoë 🏦 Ünal' }).ok, 'any Unicode name');
  });
});

function reasonOf(input: Parameters<typeof checkBankDetails>[0]): string {
  const checked = checkBankDetails(input);
  assert.ok(!checked.ok);
  return checked.detail;
}
