import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactDatabaseUrl, resolveDatabaseUrl, secretsOf, sqliteUrlFor } from './database-url.ts';

describe('resolveDatabaseUrl', () => {
  it('uses the SQLite file in the data directory when no URL is given', () => {
    assert.deepEqual(resolveDatabaseUrl(undefined, '/srv/mite'), {
      url: 'sqlite:/srv/mite/ledger.sqlite',
      isDefault: true,
    });
    assert.equal(resolveDatabaseUrl('  ', '/srv/mite').isDefault, true);
  });

  it('prefers an explicit URL', () => {
    assert.deepEqual(resolveDatabaseUrl('postgres://db/mite', '/srv/mite'), {
      url: 'postgres://db/mite',
      isDefault: false,
    });
  });
});

describe('redactDatabaseUrl', () => {
  it('hides the password and keeps the rest', () => {
    assert.equal(
      redactDatabaseUrl('postgres://mite:s3cret@db.example:5432/mite?sslmode=require'),
      'postgres://mite:***@db.example:5432/mite?sslmode=require',
    );
  });

  it('hides passwords given as query parameters', () => {
    const shown = redactDatabaseUrl('postgres://db/mite?password=s3cret&sslpassword=k3y');
    assert.equal(shown, 'postgres://db/mite?password=***&sslpassword=***');
  });

  it('leaves URLs without secrets alone', () => {
    assert.equal(redactDatabaseUrl('postgres://mite@db/mite'), 'postgres://mite@db/mite');
    assert.equal(redactDatabaseUrl(sqliteUrlFor('/d')), 'sqlite:/d/ledger.sqlite');
  });

  it('shows nothing of a URL it cannot parse', () => {
    assert.equal(redactDatabaseUrl('not a url:s3cret'), '<unparseable database URL>');
  });
});

describe('secretsOf', () => {
  it('lists the password in its encoded and decoded forms', () => {
    const secrets = secretsOf('postgres://mite:p%40ss@db/mite');
    assert.ok(secrets.includes('p%40ss'));
    assert.ok(secrets.includes('p@ss'));
  });

  it('has none for SQLite', () => {
    assert.deepEqual(secretsOf('sqlite:/d/ledger.sqlite'), []);
  });
});
