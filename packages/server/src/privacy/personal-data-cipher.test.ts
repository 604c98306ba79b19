import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  createPersonalDataCipher,
  looksEncrypted,
  normaliseEmail,
} from './personal-data-cipher.ts';

describe('personal data cipher', () => {
  const cipher = createPersonalDataCipher(randomBytes(32));

  it('round-trips and never shows the plaintext', () => {
    const sealed = cipher.encrypt('ada@example.com', 'user:1:email');
    assert.doesNotMatch(sealed, /ada@example\.com/);
    assert.equal(cipher.decrypt(sealed, 'user:1:email'), 'ada@example.com');
    assert.notEqual(cipher.encrypt('ada@example.com', 'user:1:email'), sealed);
  });

  it('uses a fresh IV for every encryption, across refills of its random pool', () => {
    // More than two pools' worth (512 IVs each): every IV differs and every value opens.
    const sealed = Array.from({ length: 1_100 }, (_, i) => cipher.encrypt(`value ${i}`, 'ctx'));
    const ivs = new Set(sealed.map((value) => value.split('.')[1]));
    assert.equal(ivs.size, sealed.length);
    sealed.forEach((value, i) => assert.equal(cipher.decrypt(value, 'ctx'), `value ${i}`));
  });

  it('refuses a ciphertext moved to another owner, tampered with, or under another key', () => {
    const sealed = cipher.encrypt('ada@example.com', 'user:1:email');
    assert.throws(() => cipher.decrypt(sealed, 'user:2:email'));
    const parts = sealed.split('.');
    const body = Buffer.from(parts[2] ?? '', 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    parts[2] = body.toString('base64url');
    assert.throws(() => cipher.decrypt(parts.join('.'), 'user:1:email'));
    assert.throws(() => createPersonalDataCipher(randomBytes(32)).decrypt(sealed, 'user:1:email'));
    assert.throws(() => cipher.decrypt('v0.a.b.c', 'user:1:email'), /format/);
  });

  it('derives stable lookup tags per purpose, and different keys give different tags', () => {
    const tag = cipher.lookupTag(normaliseEmail(' Ada@Example.COM '), 'email');
    assert.equal(tag, cipher.lookupTag('ada@example.com', 'email'));
    assert.notEqual(tag, cipher.lookupTag('ada@example.com', 'phone'));
    assert.notEqual(
      tag,
      createPersonalDataCipher(randomBytes(32)).lookupTag('ada@example.com', 'email'),
    );
  });

  it('tells its own output from data stored in the clear', () => {
    for (const text of ['', 'x', 'DE89370400440532013000', '<?xml version="1.0"?>']) {
      assert.ok(looksEncrypted(cipher.encrypt(text, 'context')), `encrypted ${text}`);
      assert.ok(!looksEncrypted(text), text);
    }
    assert.ok(!looksEncrypted('v1.short.body.tag'));
  });

  it('needs a 32-byte master key', () => {
    assert.throws(() => createPersonalDataCipher(randomBytes(16)), /32 bytes/);
  });
});
