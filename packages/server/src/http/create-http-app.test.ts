import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { createHttpApp, type HttpApp } from './create-http-app.ts';
import { defaultHttpLimits } from './limits.ts';
import { problemCodes, problemTable, problemType } from './problems.ts';
import { call, createTestApp, internalSecret } from './test-routes.ts';
import { captureLog, type ListeningApp, listenOnLoopback } from './testing.ts';

type Json = Record<string, unknown>;

function asJson(value: unknown): Json {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value));
  return value as Json;
}

function assertProblem(
  response: { status: number; headers: Headers; json(): Json },
  status: number,
  slug: string,
): Json {
  assert.equal(response.status, status);
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const body = response.json();
  assert.equal(body.type, `/v1/problems/${slug}`);
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  assert.match(String(body.instance), /^urn:uuid:[0-9a-f-]{36}$/);
  return body;
}

/** Every `$ref` in `value` points into the document's components. */
function assertRefsResolve(document: Json, value: unknown): void {
  if (Array.isArray(value)) return value.forEach((item) => assertRefsResolve(document, item));
  if (typeof value !== 'object' || value === null) return;
  for (const [key, child] of Object.entries(value)) {
    if (key === '$ref') {
      const name = String(child).replace('#/components/schemas/', '');
      assert.ok(asJson(asJson(document.components).schemas)[name], `unresolved ${String(child)}`);
    } else assertRefsResolve(document, child);
  }
}

/** The structural rules of OpenAPI 3.1 that a generator can get wrong. */
function assertOpenApi31(document: Json): void {
  assert.match(String(document.openapi), /^3\.1\.\d+$/);
  const info = asJson(document.info);
  assert.equal(typeof info.title, 'string');
  assert.equal(typeof info.version, 'string');
  for (const [path, item] of Object.entries(asJson(document.paths))) {
    assert.ok(path.startsWith('/'), path);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
    for (const [method, operation] of Object.entries(asJson(item))) {
      assert.ok(['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(method));
      const op = asJson(operation);
      assert.ok(Object.keys(asJson(op.responses)).length > 0, `${method} ${path}: responses`);
      const parameters = (op.parameters ?? []) as Json[];
      for (const parameter of parameters) {
        assert.ok(['query', 'header', 'path', 'cookie'].includes(String(parameter.in)));
        assert.equal(typeof parameter.name, 'string');
        if (parameter.in === 'path') assert.equal(parameter.required, true);
      }
      const pathParameters = parameters.filter((p) => p.in === 'path').map((p) => p.name);
      assert.deepEqual(pathParameters.sort(), templated.sort(), `${method} ${path}: path params`);
    }
  }
  assertRefsResolve(document, document.paths);
}

/** A Content-Security-Policy that allows no inline script or style and no origin but this one. */
function assertNoOtherOrigin(policy: string, where: string): void {
  const directives = new Map(
    policy.split(';').map((directive) => {
      const [name = '', ...sources] = directive.trim().split(/\s+/);
      return [name, sources] as const;
    }),
  );
  assert.deepEqual(directives.get('default-src'), ["'none'"], `${where}: ${policy}`);
  assert.deepEqual(directives.get('script-src'), ["'self'"], `${where}: ${policy}`);
  for (const [name, sources] of directives) {
    for (const source of sources) {
      assert.ok(["'none'", "'self'", 'data:'].includes(source), `${where}: ${name} ${source}`);
    }
  }
  assert.deepEqual(directives.get('frame-ancestors'), ["'none'"], `${where}: ${policy}`);
}

describe('createHttpApp over loopback', () => {
  let app: HttpApp;
  let server: ListeningApp;
  let url = '';

  before(async () => {
    app = createTestApp();
    server = await listenOnLoopback(app);
    url = server.baseUrl;
  });
  after(() => server.close());

  test('serves an OpenAPI 3.1 document generated from the routes’ zod schemas', async () => {
    const response = await call(url, 'GET', '/v1/openapi.json');
    assert.equal(response.status, 200);
    const document = response.json();
    assertOpenApi31(document);
    const create = asJson(asJson(asJson(document.paths)['/v1/widgets']).post);
    const body = asJson(asJson(asJson(asJson(create.requestBody).content)['application/json']));
    const properties = asJson(asJson(body.schema).properties);
    assert.deepEqual(asJson(properties.name), {
      type: 'string',
      minLength: 2,
      maxLength: 40,
      description: 'What the widget is called',
    });
    assert.equal(asJson(properties.priceMicros).type, 'integer');
    assert.deepEqual(asJson(body.schema).required, ['name', 'priceMicros']);
    assert.ok(asJson(create.responses)['201']);
    const problemContent = asJson(asJson(asJson(create.responses).default).content);
    assert.ok(problemContent['application/problem+json']);
    const me = asJson(asJson(asJson(document.paths)['/v1/me']).get);
    assert.deepEqual(me['x-mite-auth'], { kinds: ['user'] });
    assert.deepEqual(me.security, [{ bearerAuth: [] }, { sessionCookie: [] }]);
    assert.equal(asJson(asJson(document.paths)['/metrics'] ?? {}).get, undefined);
  });

  test('serves Swagger UI from this server alone, under a CSP that allows no other origin', async () => {
    const page = await call(url, 'GET', '/v1/docs');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.doesNotMatch(page.text, /https?:\/\//i, 'the page names no other origin');
    assert.doesNotMatch(page.text, /<script(?![^>]*\ssrc=)/i, 'no inline script');
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    assert.ok(assets.length >= 4, `scripts, styles and icons: ${assets.join(' ')}`);
    assert.ok(assets.includes('/v1/docs/static/swagger-ui-bundle.js'));
    for (const asset of ['/v1/docs', ...assets]) {
      assert.ok(asset?.startsWith('/v1/docs'), `${asset} is this server's`);
      const response = await call(url, 'GET', asset ?? '');
      assert.equal(response.status, 200, asset);
      assertNoOtherOrigin(response.headers.get('content-security-policy') ?? '', asset ?? '');
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', asset);
    }
    for (const outside of ['/v1/docs/static/%2e%2e/index.js', '/v1/docs/static/..%2f..%2fx']) {
      const refused = await call(url, 'GET', outside);
      assert.ok(refused.status >= 400 && refused.status < 500, `${outside}: ${refused.status}`);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
    }
    const initializer = await call(url, 'GET', '/v1/docs/static/swagger-initializer.js');
    assert.match(initializer.text, /validatorUrl: null/, 'no validator badge from swagger.io');
    assert.match(initializer.text, /url: resolveUrl\('\.\/json'\)/);
  });

  test('the docs page shows the OpenAPI document, with every problem type', async () => {
    const shown = await call(url, 'GET', '/v1/docs/json');
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.json(), (await call(url, 'GET', '/v1/openapi.json')).json());
    for (const expected of ['/v1/widgets', '/v1/me', 'priceMicros', 'What the widget is called']) {
      assert.ok(shown.text.includes(expected), expected);
    }
    const description = String(asJson(shown.json().info).description);
    assert.match(description, /## Problem types/);
    assert.match(
      description,
      /\[`insufficientFunds`\]\(\/v1\/problems\/insufficient-funds\) 409: /,
    );
  });

  test('validation failures list each issue', async () => {
    const response = await call(url, 'POST', '/v1/widgets', {
      body: { name: 'x', priceMicros: 1.5 },
    });
    const body = assertProblem(response, 400, 'validation-failed');
    assert.deepEqual(
      (body.issues as Json[]).map((issue) => [issue.in, issue.path]),
      [
        ['body', '/name'],
        ['body', '/priceMicros'],
      ],
    );
    assert.ok((body.issues as Json[]).every((issue) => typeof issue.message === 'string'));
    const params = await call(url, 'GET', '/v1/widgets/nope');
    assert.equal(
      asJson((assertProblem(params, 400, 'validation-failed').issues as Json[])[0]).in,
      'params',
    );
  });

  test('bad JSON, unsupported media types, unknown routes and wrong methods', async () => {
    const headers = { 'content-type': 'application/json' };
    assertProblem(
      await call(url, 'POST', '/v1/widgets', { rawBody: '{"name": ', headers }),
      400,
      'malformed-json',
    );
    assertProblem(
      await call(url, 'POST', '/v1/widgets', { rawBody: '', headers }),
      400,
      'malformed-json',
    );
    const xml = { 'content-type': 'application/xml' };
    assertProblem(
      await call(url, 'POST', '/v1/widgets', { rawBody: '<a/>', headers: xml }),
      415,
      'unsupported-media-type',
    );
    assertProblem(await call(url, 'GET', '/v1/nowhere'), 404, 'not-found');
    assertProblem(await call(url, 'GET', '/v1/widgets/w2'), 404, 'not-found');
    const wrongMethod = await call(url, 'DELETE', '/v1/widgets/w1');
    assertProblem(wrongMethod, 405, 'method-not-allowed');
    assert.equal(wrongMethod.headers.get('allow'), 'GET, HEAD');
    const getCollection = await call(url, 'GET', '/v1/widgets');
    assertProblem(getCollection, 405, 'method-not-allowed');
    assert.equal(getCollection.headers.get('allow'), 'POST');
  });

  test('a thrown error is an internal problem that discloses nothing', async () => {
    const response = await call(url, 'POST', '/v1/widgets', {
      body: { name: 'explode', priceMicros: 1 },
    });
    const body = assertProblem(response, 500, 'internal');
    assert.equal(body.detail, undefined);
    assert.ok(!response.text.includes(internalSecret));
    assert.ok(!response.text.includes('Error'));
    assert.ok(!response.text.includes('.ts'));
  });

  test('bodies over requestBodyBytesMax are refused', async () => {
    const name = 'x'.repeat(defaultHttpLimits.requestBodyBytesMax);
    const response = await call(url, 'POST', '/v1/widgets', { body: { name, priceMicros: 1 } });
    assertProblem(response, 413, 'payload-too-large');
    const fits = await call(url, 'POST', '/v1/widgets', { body: { name: 'ok', priceMicros: 1 } });
    assert.equal(fits.status, 201);
  });

  test('request heads over requestHeadersBytesMax are refused', async () => {
    const padding = 'x'.repeat(defaultHttpLimits.requestHeadersBytesMax);
    const response = await call(url, 'GET', '/v1/widgets/w1', {
      headers: { 'x-padding': padding },
    });
    assert.equal(response.status, 431);
    assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(response.json().type, '/v1/problems/request-headers-too-large');
  });

  test('routes admit the principals their auth names', async () => {
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    const anonymous = await call(url, 'GET', '/v1/me');
    assertProblem(anonymous, 401, 'unauthenticated');
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
    assertProblem(await call(url, 'GET', '/v1/me', bearer('made-up')), 401, 'unauthenticated');
    assertProblem(await call(url, 'GET', '/v1/me', bearer('merchant-token')), 403, 'forbidden');
    const me = await call(url, 'GET', '/v1/me', bearer('user-token'));
    assert.deepEqual(me.json(), { principalId: 'user:u1' });
    const cookie = { headers: { cookie: 'theme=dark; mite_session=user-token' } };
    assert.equal((await call(url, 'GET', '/v1/me', cookie)).status, 200);
    const apiKey = { headers: { 'x-api-key': 'merchant-token' } };
    assert.equal((await call(url, 'POST', '/v1/merchant-widgets', apiKey)).status, 200);
    const readOnly = await call(
      url,
      'POST',
      '/v1/merchant-widgets',
      bearer('read-only-merchant-token'),
    );
    assert.match(String(assertProblem(readOnly, 403, 'forbidden').detail), /widgets:write/);
  });

  test('problem types dereference to pages, HTML or JSON', async () => {
    const html = await call(url, 'GET', '/v1/problems/idempotency-key-reused');
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(html.text, /422/);
    const json = await call(url, 'GET', '/v1/problems/insufficient-funds', {
      headers: { accept: 'application/json' },
    });
    assert.deepEqual(
      { ...json.json(), description: undefined },
      {
        type: '/v1/problems/insufficient-funds',
        code: 'insufficientFunds',
        status: 409,
        title: 'The wallet does not hold enough funds',
        description: undefined,
      },
    );
    assertProblem(await call(url, 'GET', '/v1/problems/no-such-thing'), 404, 'not-found');
  });

  test("every problem type the platform answers with is a page it serves (Mite's own types)", async () => {
    for (const code of problemCodes) {
      const type = problemType(code);
      const html = await call(url, 'GET', type);
      assert.equal(html.status, 200, type);
      assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
      assert.ok(html.text.includes(`<code>${code}</code>`), type);
      const json = await call(url, 'GET', type, { headers: { accept: 'application/json' } });
      assert.equal(json.status, 200, type);
      assert.deepEqual(
        { type: json.json().type, code: json.json().code, status: json.json().status },
        { type, code, status: problemTable[code].status },
      );
    }
  });

  test('GET /metrics counts requests by method, route pattern and status', async () => {
    await call(url, 'GET', '/v1/widgets/w1');
    await call(url, 'GET', '/v1/widgets/w2');
    let text = '';
    // The counter is updated on response, which can come just after the client has read it.
    for (let attempt = 0; attempt < 20 && !text.includes('status="404"'); attempt += 1) {
      const response = await call(url, 'GET', '/metrics');
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
      text = response.text;
    }
    const labels = 'method="GET",route="/v1/widgets/:widgetId"';
    assert.match(text, new RegExp(`http_requests_total\\{${labels},status="200"\\} [1-9]`));
    assert.match(text, new RegExp(`http_requests_total\\{${labels},status="404"\\} [1-9]`));
    assert.match(text, /http_request_duration_seconds_bucket\{le="0.005",method="GET"/);
    assert.match(text, /http_requests_total\{method="GET",route="<unmatched>",status="404"\}/);
    assert.match(text, /^process_cpu_user_seconds_total /m);
    assert.doesNotMatch(text, /route="\/v1\/widgets\/w1"/);
  });
});

describe('rate limits', () => {
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  test('per principal on routes that need a credential, else per IP address', async () => {
    const app = createTestApp({}, { rateLimitPerClientMax: 3, rateLimitPerIpMax: 100 });
    const { baseUrl, close } = await listenOnLoopback(app);
    try {
      // A public route looks at no credential: made-up tokens share the address's budget.
      for (const options of [{}, bearer('made-up'), {}]) {
        assert.notEqual((await call(baseUrl, 'GET', '/v1/widgets/w1', options)).status, 429);
      }
      assertProblem(
        await call(baseUrl, 'GET', '/v1/widgets/w1', bearer('made-up-2')),
        429,
        'rate-limited',
      );
      // Logging in again is the same user: its two sessions share one budget.
      for (const token of ['user-token', 'user-token-2', 'user-token']) {
        assert.equal((await call(baseUrl, 'GET', '/v1/me', bearer(token))).status, 200);
      }
      const limited = await call(baseUrl, 'GET', '/v1/me', bearer('user-token-2'));
      assertProblem(limited, 429, 'rate-limited');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      assert.equal((await call(baseUrl, 'GET', '/v1/me', bearer('other-user-token'))).status, 200);
    } finally {
      await close();
    }
  });

  test("a route's own limit counts per user and per IP address", async () => {
    const app = createTestApp();
    const { baseUrl, close } = await listenOnLoopback(app);
    const viaProxy = (token: string, client: string) => ({
      headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': client },
    });
    try {
      const mine = '/v1/limited-mine';
      assert.equal((await call(baseUrl, 'GET', mine, bearer('user-token'))).status, 200);
      assert.equal((await call(baseUrl, 'GET', mine, bearer('user-token'))).status, 200);
      assertProblem(await call(baseUrl, 'GET', mine, bearer('user-token-2')), 429, 'rate-limited');
      // Another user from the same address: the address has had its two.
      assertProblem(
        await call(baseUrl, 'GET', mine, bearer('other-user-token')),
        429,
        'rate-limited',
      );
      // Without trustProxy a forwarded address is not believed.
      assertProblem(
        await call(baseUrl, 'GET', mine, viaProxy('other-user-token', '203.0.113.9')),
        429,
        'rate-limited',
      );
    } finally {
      await close();
    }
  });

  test('behind a trusted proxy, count per forwarded client address', async () => {
    const app = createTestApp({ trustProxy: '127.0.0.1' });
    const { baseUrl, close } = await listenOnLoopback(app);
    const from = (client: string) => ({ headers: { 'x-forwarded-for': client } });
    try {
      for (const client of ['203.0.113.1', '203.0.113.2']) {
        assert.equal((await call(baseUrl, 'GET', '/v1/limited', from(client))).status, 200);
        assert.equal((await call(baseUrl, 'GET', '/v1/limited', from(client))).status, 200);
        assertProblem(await call(baseUrl, 'GET', '/v1/limited', from(client)), 429, 'rate-limited');
      }
    } finally {
      await close();
    }
  });

  test('per IP address whatever the credentials, unknown URLs included', async () => {
    const app = createTestApp({}, { rateLimitPerClientMax: 100, rateLimitPerIpMax: 5 });
    const { baseUrl, close } = await listenOnLoopback(app);
    try {
      for (let count = 1; count <= 5; count += 1) {
        const response = await call(baseUrl, 'GET', `/v1/scan-${count}`, bearer(`token-${count}`));
        assert.equal(response.status, 404);
      }
      const limited = await call(baseUrl, 'GET', '/v1/widgets/w1', bearer('token-6'));
      assertProblem(limited, 429, 'rate-limited');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
    } finally {
      await close();
    }
  });

  test('a route may set its own limit', async () => {
    const app = createTestApp();
    const { baseUrl, close } = await listenOnLoopback(app);
    try {
      assert.equal((await call(baseUrl, 'GET', '/v1/limited')).status, 200);
      assert.equal((await call(baseUrl, 'GET', '/v1/limited')).status, 200);
      assertProblem(await call(baseUrl, 'GET', '/v1/limited'), 429, 'rate-limited');
      assert.equal((await call(baseUrl, 'GET', '/v1/widgets/w1')).status, 200);
    } finally {
      await close();
    }
  });
});

describe('route declarations', () => {
  function bareApp(): HttpApp {
    return createHttpApp({
      logger: captureLog('silent').logger,
      metricsRegistry: new Registry(),
      limits: defaultHttpLimits,
    });
  }

  test('an API route must say who may call it', async () => {
    const app = bareApp();
    void app.register(async (api) => {
      api.get('/v1/open', async () => ({}));
    });
    await assert.rejects(async () => app.ready(), /GET \/v1\/open: declare config.auth/);
  });

  test('an API route open to merchants must name the scope their keys need', async () => {
    const app = bareApp();
    void app.register(async (api) => {
      api.get(
        '/v1/mine',
        { config: { auth: { kinds: ['merchant', 'operator'] } } },
        async () => ({}),
      );
    });
    await assert.rejects(async () => app.ready(), /GET \/v1\/mine: declare config.auth.scopes/);
    const operatorsOnly = bareApp();
    void operatorsOnly.register(async (api) => {
      api.get('/v1/ops', { config: { auth: { kinds: ['operator'] } } }, async () => ({}));
    });
    await operatorsOnly.ready();
    await operatorsOnly.close();
  });

  test('a mutating API route must say whether it is idempotent', async () => {
    const app = bareApp();
    void app.register(async (api) => {
      api.post('/v1/things', { config: { auth: 'public' } }, async () => ({}));
    });
    await assert.rejects(async () => app.ready(), /declare config.idempotent/);
  });

  test('idempotent routes need a guard, and a mutating method', async () => {
    const withoutGuard = bareApp();
    void withoutGuard.register(async (api) => {
      api.post('/v1/things', { config: { auth: 'public', idempotent: true } }, async () => ({}));
    });
    await assert.rejects(async () => withoutGuard.ready(), /IdempotencyGuard/);
    const onGet = bareApp();
    void onGet.register(async (api) => {
      api.get('/v1/things', { config: { auth: 'public', idempotent: true } }, async () => ({}));
    });
    await assert.rejects(async () => onGet.ready(), /only POST, PUT, PATCH and DELETE/);
  });

  test('routes registered outside a plugin are refused, as they would escape rate limits', () => {
    const app = bareApp();
    assert.throws(
      () => app.get('/v1/early', { config: { auth: 'public' } }, async () => ({})),
      /register routes in a plugin/,
    );
  });

  test('apps may share a metrics registry, and typed routes infer from zod', async () => {
    const metricsRegistry = new Registry();
    const options = { logger: captureLog('silent').logger, metricsRegistry };
    const first = createHttpApp({ ...options, limits: defaultHttpLimits });
    const second = createHttpApp({ ...options, limits: defaultHttpLimits });
    const echo: FastifyPluginAsyncZod = async (api) => {
      api.get(
        '/v1/echo',
        { schema: { querystring: z.object({ n: z.coerce.number() }) }, config: { auth: 'public' } },
        async (request) => ({ doubled: request.query.n * 2 }),
      );
    };
    void second.register(echo);
    await Promise.all([first.ready(), second.ready()]);
    const response = await second.inject({ method: 'GET', url: '/v1/echo?n=21' });
    assert.deepEqual(response.json(), { doubled: 42 });
    await Promise.all([first.close(), second.close()]);
  });
});
