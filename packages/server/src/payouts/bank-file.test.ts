import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bankAmount,
  type BankFileInput,
  escapeXml,
  pain001Namespace,
  pain001Xml,
  parseCsv,
  payoutsCsv,
  readPain001,
  wholeCentsOf,
} from './bank-file.ts';
import { childrenNamed, elementAt, parseXml, textAt, XmlSyntaxError } from './xml-reader.ts';

const trickyName = `O'Brien & <Sons> "Ltd", Dublin`;

const input: BankFileInput = {
  batchId: 'pb_0190a1b2c3d4e5f60718293a4b5c6d7e',
  createdAtMs: Date.UTC(2027, 0, 15, 10, 30, 45, 123),
  currency: 'USD',
  debtor: { name: 'Mite & Co', iban: 'DE89370400440532013000', bic: 'COBADEFFXXX' },
  payouts: [
    {
      payoutId: 'po_0190a1b2c3d4e5f60718293a4b5c6d01',
      merchantId: 'mer_a',
      holderName: trickyName,
      iban: 'GB82WEST12345698765432',
      bic: 'NWBKGB2L',
      amountMicros: 12_340_000n,
    },
    {
      payoutId: 'po_0190a1b2c3d4e5f60718293a4b5c6d02',
      merchantId: 'mer_b',
      holderName: 'Zoë Ünal',
      iban: 'FR1420041010050500013M02606',
      bic: 'BNPAFRPP',
      amountMicros: 7_000_000n,
    },
    {
      payoutId: 'po_0190a1b2c3d4e5f60718293a4b5c6d03',
      merchantId: 'mer_c',
      holderName: 'Line\u2028Separator',
      iban: 'NL91ABNA0417164300',
      bic: 'ABNANL2A',
      amountMicros: 1_000_000_010_000n,
    },
  ],
};

describe('bank amounts', () => {
  it('rounds payouts down to whole cents, keeping the remainder out', () => {
    assert.equal(wholeCentsOf(12_345_678n), 12_340_000n);
    assert.equal(wholeCentsOf(9_999n), 0n);
    assert.equal(wholeCentsOf(10_000n), 10_000n);
    assert.equal(wholeCentsOf(0n), 0n);
  });

  it('writes whole cents with two decimals and refuses anything finer', () => {
    assert.equal(bankAmount(12_340_000n), '12.34');
    assert.equal(bankAmount(10_000n), '0.01');
    assert.equal(bankAmount(7_000_000n), '7.00');
    assert.equal(bankAmount(1_000_000_010_000n), '1000000.01');
    assert.throws(() => bankAmount(12_345_678n), /whole number of cents/);
    assert.throws(() => bankAmount(-10_000n), /non-negative/);
  });
});

describe('pain.001.001.09', () => {
  const xml = pain001Xml(input);
  const document = parseXml(xml);
  const initiation = elementAt(document, 'CstmrCdtTrfInitn');
  const payment = elementAt(initiation, 'PmtInf');
  const transactions = childrenNamed(payment, 'CdtTrfTxInf');

  it('is a well-formed document in the pain.001.001.09 namespace', () => {
    assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n'));
    assert.equal(document.name, 'Document');
    assert.equal(document.attributes.xmlns, pain001Namespace);
    assert.equal(pain001Namespace, 'urn:iso:std:iso:20022:tech:xsd:pain.001.001.09');
    assert.deepEqual(
      document.children.map((child) => child.name),
      ['CstmrCdtTrfInitn'],
    );
    assert.deepEqual(
      initiation.children.map((child) => child.name),
      ['GrpHdr', 'PmtInf'],
    );
  });

  it('has the group header and one payment block, in schema order', () => {
    const header = elementAt(initiation, 'GrpHdr');
    assert.deepEqual(
      header.children.map((child) => child.name),
      ['MsgId', 'CreDtTm', 'NbOfTxs', 'CtrlSum', 'InitgPty'],
    );
    assert.equal(textAt(header, 'MsgId'), input.batchId);
    assert.equal(textAt(header, 'CreDtTm'), '2027-01-15T10:30:45Z');
    assert.equal(textAt(header, 'InitgPty/Nm'), 'Mite & Co');
    assert.deepEqual(
      payment.children.map((child) => child.name),
      [
        'PmtInfId',
        'PmtMtd',
        'NbOfTxs',
        'CtrlSum',
        'ReqdExctnDt',
        'Dbtr',
        'DbtrAcct',
        'DbtrAgt',
        'ChrgBr',
        'CdtTrfTxInf',
        'CdtTrfTxInf',
        'CdtTrfTxInf',
      ],
    );
    assert.equal(textAt(payment, 'PmtInfId'), input.batchId);
    assert.equal(textAt(payment, 'PmtMtd'), 'TRF');
    assert.equal(textAt(payment, 'ReqdExctnDt/Dt'), '2027-01-15');
    assert.equal(textAt(payment, 'Dbtr/Nm'), 'Mite & Co');
    assert.equal(textAt(payment, 'DbtrAcct/Id/IBAN'), 'DE89370400440532013000');
    assert.equal(textAt(payment, 'DbtrAgt/FinInstnId/BICFI'), 'COBADEFFXXX');
    assert.equal(textAt(payment, 'ChrgBr'), 'SLEV');
  });

  it('has counts and control sums that add up', () => {
    const amounts = transactions.map((transaction) => textAt(transaction, 'Amt/InstdAmt'));
    assert.deepEqual(amounts, ['12.34', '7.00', '1000000.01']);
    const cents = amounts.reduce((sum, amount) => sum + BigInt(amount.replace('.', '')), 0n);
    for (const block of [elementAt(initiation, 'GrpHdr'), payment]) {
      assert.equal(textAt(block, 'NbOfTxs'), String(input.payouts.length));
      assert.equal(textAt(block, 'CtrlSum'), '1000019.35');
      assert.equal(BigInt(textAt(block, 'CtrlSum').replace('.', '')), cents);
    }
  });

  it('has one credit transfer per payout, with escaped names read back intact', () => {
    transactions.forEach((transaction, index) => {
      const payout = input.payouts[index];
      assert.ok(payout);
      assert.deepEqual(
        transaction.children.map((child) => child.name),
        ['PmtId', 'Amt', 'CdtrAgt', 'Cdtr', 'CdtrAcct', 'RmtInf'],
      );
      assert.equal(textAt(transaction, 'PmtId/EndToEndId'), payout.payoutId);
      assert.equal(elementAt(transaction, 'Amt/InstdAmt').attributes.Ccy, 'USD');
      assert.equal(textAt(transaction, 'CdtrAgt/FinInstnId/BICFI'), payout.bic);
      assert.equal(textAt(transaction, 'Cdtr/Nm'), payout.holderName);
      assert.equal(textAt(transaction, 'CdtrAcct/Id/IBAN'), payout.iban);
      assert.equal(textAt(transaction, 'RmtInf/Ustrd'), `Mite payout ${payout.payoutId}`);
    });
    assert.ok(
      xml.includes('<Nm>O&apos;Brien &amp; &lt;Sons&gt; &quot;Ltd&quot;, Dublin</Nm>'),
      'the raw text is escaped',
    );
    assert.ok(!xml.includes(trickyName));
  });

  it('keeps every identifier within Max35Text', () => {
    for (const id of [input.batchId, ...input.payouts.map((payout) => payout.payoutId)]) {
      assert.ok(id.length <= 35, id);
    }
  });

  it('reads back as a bank would', () => {
    const summary = readPain001(xml);
    assert.equal(summary.messageId, input.batchId);
    assert.equal(summary.groupCount, 3);
    assert.equal(summary.paymentCount, 3);
    assert.equal(summary.groupControlSumMicros, 1_000_019_350_000n);
    assert.equal(summary.paymentControlSumMicros, 1_000_019_350_000n);
    assert.equal(summary.debtorIban, 'DE89370400440532013000');
    assert.deepEqual(
      summary.transactions.map((transaction) => [transaction.endToEndId, transaction.amountMicros]),
      input.payouts.map((payout) => [payout.payoutId, payout.amountMicros]),
    );
    assert.equal(summary.transactions[0]?.creditorName, trickyName);
  });

  it('refuses an empty batch and characters XML cannot carry', () => {
    assert.throws(() => pain001Xml({ ...input, payouts: [] }), /at least one payout/);
    assert.throws(() => escapeXml('bell\u0007'), /control character/);
    assert.equal(
      escapeXml(`<a href='x'>"&"</a>`),
      '&lt;a href=&apos;x&apos;&gt;&quot;&amp;&quot;&lt;/a&gt;',
    );
  });
});

describe('payouts CSV', () => {
  const csv = payoutsCsv(input);

  it('quotes per RFC 4180 and ends lines with CRLF', () => {
    const lines = csv.split('\r\n');
    assert.equal(lines.at(-1), '', 'the last record ends with CRLF too');
    assert.equal(lines[0], 'payout_id,merchant_id,holder_name,iban,bic,amount,currency');
    assert.equal(
      lines[1],
      'po_0190a1b2c3d4e5f60718293a4b5c6d01,mer_a,"O\'Brien & <Sons> ""Ltd"", Dublin",' +
        'GB82WEST12345698765432,NWBKGB2L,12.34,USD',
    );
    assert.equal(
      lines[2],
      'po_0190a1b2c3d4e5f60718293a4b5c6d02,mer_b,Zoë Ünal,FR1420041010050500013M02606,BNPAFRPP,7.00,USD',
    );
  });

  it('quotes a field holding any line break, not only CRLF', () => {
    const first = input.payouts[0];
    assert.ok(first);
    for (const holderName of ['a\nb', 'a\rb', 'a\r\nb']) {
      const text = payoutsCsv({ ...input, payouts: [{ ...first, holderName }] });
      assert.ok(text.includes(`,"${holderName}",`), JSON.stringify(text));
      assert.equal(parseCsv(text)[1]?.[2], holderName);
    }
  });

  it('keeps a holder name from running as a spreadsheet formula', () => {
    const first = input.payouts[0];
    assert.ok(first);
    for (const holderName of ['=HYPERLINK("http://127.0.0.1/x","y")', '+1', '-1+2', '@SUM(A1)']) {
      const text = payoutsCsv({ ...input, payouts: [{ ...first, holderName }] });
      assert.equal(parseCsv(text)[1]?.[2], `'${holderName}`, holderName);
    }
    const plain = payoutsCsv({ ...input, payouts: [{ ...first, holderName: 'Ann = Bob' }] });
    assert.equal(parseCsv(plain)[1]?.[2], 'Ann = Bob');
  });

  it('parses back to the same fields', () => {
    const records = parseCsv(csv);
    assert.equal(records.length, 4);
    assert.deepEqual(records[1], [
      'po_0190a1b2c3d4e5f60718293a4b5c6d01',
      'mer_a',
      trickyName,
      'GB82WEST12345698765432',
      'NWBKGB2L',
      '12.34',
      'USD',
    ]);
    assert.deepEqual(parseCsv('a,"b\r\nc",""""\r\n'), [['a', 'b\r\nc', '"']]);
    assert.throws(() => parseCsv('a,"b'), /Quote Not Closed/);
    assert.throws(() => parseCsv('a,b"c\r\n'), /Invalid Opening Quote/);
    assert.throws(() => parseCsv('"a"b,c\r\n'), /Invalid Closing Quote/);
    assert.throws(() => parseCsv('a,b\r\nc\r\n'), /Invalid Record Length/);
  });
});

describe('the XML reader', () => {
  it('refuses documents that are not well formed', () => {
    for (const text of [
      '<a><b></a></b>',
      '<a>',
      '<a></a><b></b>',
      '<a>x & y</a>',
      '<a>&nbsp;</a>',
      '<a x="1" x="2"/>',
      '<a x=1/>',
      '<a>\u0001</a>',
      '<!DOCTYPE a><a/>',
      '<a><![CDATA[x]]></a>',
      'text<a/>',
      '<a/>trailing',
      '<?xml version="1.0"?><a>&#0;</a>',
      '<a>&#xD800;</a>',
      '<a x="<"/>',
      '<a>]]></a>',
      '<a><?pi x?></a>',
      '<a><!-- a -- b --></a>',
      '<?xml version="1.0" foo="bar"?><a/>',
      '',
    ]) {
      assert.throws(() => parseXml(text), XmlSyntaxError, text);
    }
  });

  it('refuses every DTD, so no entity can be declared: no XXE, no billion laughs', () => {
    const attacks = {
      xxe: '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
      laughs:
        '<!DOCTYPE a [<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;&l;&l;&l;&l;&l;&l;&l;">' +
        '<!ENTITY l3 "&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;">]><a>&l3;</a>',
      parameterEntity: '<!DOCTYPE a [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x"> %p;]><a/>',
      externalSubset: '<!DOCTYPE a SYSTEM "http://127.0.0.1:9/a.dtd"><a/>',
    };
    for (const [attack, text] of Object.entries(attacks)) {
      assert.throws(() => parseXml(text), XmlSyntaxError, attack);
    }
    // An entity no DTD declares is refused where it is used, too.
    assert.throws(() => parseXml('<a>&x;</a>'), /undefined entity/);
  });

  it('keeps attribute names that are Object.prototype keys as plain attributes', () => {
    const root = parseXml('<a __proto__="p" constructor="c" hasOwnProperty="h"/>');
    assert.deepEqual(Object.entries(root.attributes), [
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['hasOwnProperty', 'h'],
    ]);
    assert.ok(Object.hasOwn(root.attributes, '__proto__'));
  });

  it('reads entities, character references, comments and attributes', () => {
    const root = parseXml(
      `<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><r a='1 &amp; 2'><x>&lt;&#65;&#x42;&gt;</x><y/></r>\n`,
    );
    assert.equal(root.attributes.a, '1 & 2');
    assert.equal(textAt(root, 'x'), '<AB>');
    assert.equal(textAt(root, 'y'), '');
    assert.throws(() => elementAt(root, 'z'), /expected one <z>/);
  });
});
