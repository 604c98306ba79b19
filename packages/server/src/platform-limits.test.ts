/** Rate limits of a whole platform, over real HTTP: who they count. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { passwordLengthMax, passwordLengthMin } from './auth/passwords.ts';
import { startPlatformUnderTest } from './platform-testing.ts';

/** Log-ins per minute per client address: the route's own limit (auth-routes.ts). */
const logInsPerWindowMax = 10;

describe('platform rate limits', () => {
  it('behind a trusted proxy, count log-ins per forwarded client address', async (t) => {
    const env = await startPlatformUnderTest(t, 'sqlite', { trustProxy: '127.0.0.1' });
    const logIn = (client: string) =>
      env.call('POST', '/v1/sessions', {
        body: { email: 'nobody@example.com', password: 'not the password' },
        headers: { 'x-forwarded-for': client },
      });
    for (let count = 0; count < logInsPerWindowMax; count++) {
      assert.equal((await logIn('203.0.113.1')).status, 401);
    }
    assert.equal((await logIn('203.0.113.1')).status, 429);
    assert.equal((await logIn('203.0.113.2')).status, 401, 'another client behind the proxy');
  });

  it('without trustProxy, a forwarded address is not believed', async (t) => {
    const env = await startPlatformUnderTest(t, 'sqlite');
    const logIn = (client: string) =>
      env.call('POST', '/v1/sessions', {
        body: { email: 'nobody@example.com', password: 'not the password' },
        headers: { 'x-forwarded-for': client },
      });
    for (let count = 0; count < logInsPerWindowMax; count++) {
      assert.equal((await logIn(`203.0.113.${count}`)).status, 401);
    }
    assert.equal((await logIn('203.0.113.99')).status, 429);
  });
});

describe('the OpenAPI document', () => {
  it('states the password rules sign-up applies', async (t) => {
    const env = await startPlatformUnderTest(t, 'sqlite');
    const document = (await env.call('GET', '/v1/openapi.json')).body as {
      paths: Record<string, Record<string, { requestBody: { content: Record<string, unknown> } }>>;
    };
    const signUp = document.paths['/v1/users']?.post?.requestBody.content['application/json'] as {
      schema: { properties: { password: { minLength?: number; maxLength?: number } } };
    };
    const { password } = signUp.schema.properties;
    assert.equal(password.minLength, passwordLengthMin);
    assert.equal(password.maxLength, passwordLengthMax);
    const tooShort = await env.call('POST', '/v1/users', {
      body: { email: 'short@example.com', password: 'x'.repeat(passwordLengthMin - 1) },
    });
    assert.equal(tooShort.status, 400);
    assert.equal(tooShort.body?.type, '/v1/problems/validation-failed');
  });
});
