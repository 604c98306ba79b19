import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import {
  destinationProblem,
  isPublicAddress,
  literalDestinationProblem,
  guardedLookup,
  PrivateDestinationError,
} from './network-guard.ts';

describe('the webhook network guard', () => {
  it('tells public unicast addresses from loopback, private, link-local and the like', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111']) {
      assert.equal(isPublicAddress(address), true, address);
    }
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      'not an address',
    ]) {
      assert.equal(isPublicAddress(address), false, address);
    }
    assert.equal(isPublicAddress('172.32.0.1'), true);
  });

  it('refuses literal private destinations and localhost when an endpoint is added', () => {
    for (const url of [
      'http://127.0.0.1:8080/hooks',
      'http://localhost/hooks',
      'http://api.localhost/hooks',
      'http://[::1]/hooks',
      'http://169.254.169.254/latest/meta-data',
      'http://10.0.0.5/hooks',
    ]) {
      assert.ok(literalDestinationProblem(new URL(url)) !== undefined, url);
    }
    assert.equal(literalDestinationProblem(new URL('https://hooks.example.com/x')), undefined);
    assert.equal(literalDestinationProblem(new URL('https://93.184.216.34/x')), undefined);
  });

  it('checks every address a name resolves to before an attempt', async () => {
    const resolving = (addresses: string[]) => async () => addresses;
    assert.equal(
      await destinationProblem('https://hooks.example.com/x', resolving(['93.184.216.34'])),
      undefined,
    );
    assert.match(
      (await destinationProblem(
        'https://rebound.example.com/x',
        resolving(['93.184.216.34', '127.0.0.1']),
      )) ?? '',
      /resolves to 127\.0\.0\.1/,
    );
    assert.match(
      (await destinationProblem('https://gone.example.com/x', async () => {
        throw new Error('ENOTFOUND');
      })) ?? '',
      /does not resolve/,
    );
  });
});

test('guardedLookup answers as net.connect asks, only with public addresses', async () => {
  const addresses = [
    { address: '93.184.216.34', family: 4 },
    { address: '2606:2800:220:1::1', family: 6 },
  ];
  const lookup = guardedLookup((_host, _options, callback) => callback(null, addresses));
  const ask = (options: { all?: boolean }) =>
    new Promise<unknown[]>((resolve) =>
      lookup('hooks.example', options, (...answer: unknown[]) => resolve(answer)),
    );
  assert.deepEqual(await ask({ all: true }), [null, addresses]);
  assert.deepEqual(await ask({}), [null, '93.184.216.34', 4]);
});

test('guardedLookup refuses a name with any private address, and passes resolver errors on', async () => {
  const answer = (lookup: ReturnType<typeof guardedLookup>) =>
    new Promise<unknown>((resolve) =>
      lookup('x.example', { all: true }, (error) => resolve(error)),
    );
  const mixed = guardedLookup((_host, _options, callback) =>
    callback(null, [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ]),
  );
  const refused = await answer(mixed);
  assert.ok(refused instanceof PrivateDestinationError);
  assert.match(refused.message, /10\.0\.0\.7/);
  const none = guardedLookup((_host, _options, callback) => callback(null, []));
  assert.ok((await answer(none)) instanceof PrivateDestinationError);
  const failure = Object.assign(new Error('getaddrinfo ENOTFOUND x.example'), {
    code: 'ENOTFOUND',
  });
  const broken = guardedLookup((_host, _options, callback) => callback(failure, []));
  assert.equal(await answer(broken), failure);
});
