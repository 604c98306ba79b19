import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from './errors.ts';
import {
  DEFAULT_LOG_LEVEL,
  DEFAULT_PORT,
  parsePort,
  parseTrustProxy,
  resolveDataDir,
  resolveLogLevel,
  resolvePort,
  resolveTrustProxy,
} from './options.ts';

describe('parsePort', () => {
  it('accepts 0 to 65535', () => {
    assert.equal(parsePort('0'), 0);
    assert.equal(parsePort('8787'), 8787);
    assert.equal(parsePort('65535'), 65_535);
  });

  it('rejects anything else', () => {
    for (const bad of ['', 'abc', '-1', '65536', '80.5', '1e3', '0x50', '123456']) {
      assert.throws(() => parsePort(bad), /expected an integer from 0 to 65535/, bad);
    }
  });
});

describe('resolvePort', () => {
  it('takes the flag, then MITE_PORT, then the default', () => {
    assert.equal(resolvePort(1234, '5678'), 1234);
    assert.equal(resolvePort(undefined, '5678'), 5678);
    assert.equal(resolvePort(undefined, undefined), DEFAULT_PORT);
    assert.equal(resolvePort(undefined, ''), DEFAULT_PORT);
  });

  it('reports a bad MITE_PORT as a usage error', () => {
    assert.throws(() => resolvePort(undefined, 'http'), UsageError);
  });
});

describe('resolveDataDir', () => {
  it('resolves relative to the working directory, ./.mite by default', () => {
    assert.equal(resolveDataDir(undefined, '/home/a'), '/home/a/.mite');
    assert.equal(resolveDataDir('data', '/home/a'), '/home/a/data');
    assert.equal(resolveDataDir('/srv/mite', '/home/a'), '/srv/mite');
    assert.equal(resolveDataDir(undefined, '/home/a', '.mite/demo'), '/home/a/.mite/demo');
  });

  it('rejects an empty directory name', () => {
    assert.throws(() => resolveDataDir('', '/home/a'), UsageError);
  });
});

describe('resolveLogLevel', () => {
  it("takes MITE_LOG_LEVEL in any case, else 'warn'", () => {
    assert.equal(resolveLogLevel(undefined), DEFAULT_LOG_LEVEL);
    assert.equal(DEFAULT_LOG_LEVEL, 'warn');
    assert.equal(resolveLogLevel(' '), 'warn');
    assert.equal(resolveLogLevel('debug'), 'debug');
    assert.equal(resolveLogLevel('INFO'), 'info');
    assert.equal(resolveLogLevel('silent'), 'silent');
  });

  it('reports an unknown level as a usage error naming the levels', () => {
    assert.throws(
      () => resolveLogLevel('loud'),
      (error) =>
        error instanceof UsageError &&
        error.message ===
          "MITE_LOG_LEVEL='loud': expected one of fatal, error, warn, info, debug, trace, silent",
    );
  });
});

describe('trust proxy', () => {
  it('accepts proxy addresses, CIDR ranges and proxy-addr range names', () => {
    assert.equal(parseTrustProxy('10.0.0.1'), '10.0.0.1');
    assert.equal(parseTrustProxy(' 10.0.0.0/8, ::1 ,loopback'), '10.0.0.0/8,::1,loopback');
    assert.equal(parseTrustProxy('fd00::/8'), 'fd00::/8');
  });

  it('refuses hop counts, true, names and bad ranges', () => {
    for (const bad of ['', '1', 'true', 'proxy.local', '10.0.0.0/33', '::1/129', '10.0.0.1/8/1']) {
      assert.throws(() => parseTrustProxy(bad), /expected proxy addresses/, bad);
    }
  });

  it('takes the flag, then MITE_TRUST_PROXY, else trusts no proxy', () => {
    assert.equal(resolveTrustProxy('10.0.0.1', '10.0.0.2'), '10.0.0.1');
    assert.equal(resolveTrustProxy(undefined, '10.0.0.2'), '10.0.0.2');
    assert.equal(resolveTrustProxy(undefined, undefined), undefined);
    assert.equal(resolveTrustProxy(undefined, ' '), undefined);
    assert.throws(() => resolveTrustProxy(undefined, 'yes'), UsageError);
  });
});
