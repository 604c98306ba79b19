/**
 * Browser tests of the web apps: a real platform on loopback serving the built apps, driven by
 * Debian's Chromium through playwright-core (no browser is ever downloaded). One browser and one
 * platform per test file, shared by its tests; each test gets a fresh browser context (cookies
 * and storage of its own).
 *
 * Every test saves a screenshot under `test-results/` (gitignored) and keeps a Playwright trace
 * there when it fails (`npx playwright-core show-trace <file>` opens it). Every page a test opens
 * is watched: a Content-Security-Policy violation, an uncaught script error or a request to
 * another origin fails the test.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createPlatform, noRiskRules, type Platform, type RuleSetInput } from '@mite/server';
import { tempDir } from '@mite/testkit';
import pino from 'pino';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { webDistDir } from '../build.ts';

/** Debian's Chromium: `apt-get install chromium` (.ci/run installs it when missing). */
export const chromiumPath = process.env.MITE_CHROMIUM_PATH ?? '/usr/bin/chromium';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
export const testResultsDir = path.join(repoRoot, 'test-results');

/** How long the sandbox waits before confirming a card that confirms later, in these tests. */
export const sandboxConfirmDelayMs = 1_500;

/** The two widths every page must work at: a small phone, and a desktop. */
export const viewports = {
  phone: { width: 375, height: 740 },
  desktop: { width: 1280, height: 800 },
} as const;

/** Where the browser tests must run rather than skip: CI, or when asked. */
function browserRequired(): boolean {
  return process.env.CI === 'true' || process.env.MITE_REQUIRE_BROWSER === '1';
}

/**
 * Why this machine cannot run the browser tests, if it cannot; where they are required (CI), the
 * reason is thrown instead, so that they fail rather than skip.
 */
export function browserSkipReason(): string | undefined {
  let reason: string | undefined;
  if (!existsSync(chromiumPath)) {
    reason = `no Chromium at ${chromiumPath} (install Debian's chromium: apt-get install chromium)`;
  } else if (!existsSync(path.join(webDistDir, 'wallet', 'index.html'))) {
    reason = `the web apps are not built in ${webDistDir}: run \`npm run build\` first`;
  }
  if (reason !== undefined && browserRequired()) {
    throw new Error(`browser tests are required here (CI or MITE_REQUIRE_BROWSER=1): ${reason}`);
  }
  return reason;
}

/** What every test of a file shares. */
export interface BrowserWorld {
  readonly browser: Browser;
  readonly platform: Platform;
  /** `http://127.0.0.1:PORT`, the platform's one origin. */
  readonly baseUrl: string;
  /** The operator's admin key, for setting up merchants through the API. */
  readonly adminKey: string;
}

/** What one test gets: a fresh context and page, watched. */
export interface BrowserTestKit {
  readonly world: BrowserWorld;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Opens a path of the platform and waits until the page has loaded. */
  open(pathname: string): Promise<void>;
  /** Saves a named screenshot beside the test's own (of the test's page, or of `of`). */
  screenshot(name: string, of?: Page): Promise<void>;
  /**
   * Lets the test's pages reach another origin too (a merchant's site on another port, which
   * embeds the paywall): requests anywhere else still fail the test.
   */
  allowOrigin(origin: string): void;
}

export interface BrowserTestOptions {
  readonly viewport?: { readonly width: number; readonly height: number };
  /**
   * Whether the context's requests carry a client address of their own (`X-Forwarded-For`, for
   * the per-address rate limits of sign-up and log-in); true by default. Tests whose pages load
   * from other origins turn it off: Chromium sends such an added header on every request and so
   * preflights cross-origin script loads that no real browser would.
   */
  readonly ownClientAddress?: boolean;
}

let clients = 0;

/** A client address of its own (10.x.y.z) for a browser context or a setup call. */
function clientAddress(): string {
  clients += 1;
  return `10.${(clients >> 16) & 255}.${(clients >> 8) & 255}.${clients & 255}`;
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 80);
}

/** What a suite may set of its platform. */
export interface BrowserSuiteOptions {
  /** The platform's environment (`MITE_...` settings); empty by default. */
  readonly env?: Readonly<Record<string, string>>;
  /** The deployment's policy (a test's: one that challenges payments, say); none by default. */
  readonly policy?: NonNullable<Parameters<typeof createPlatform>[0]['policy']>;
  /** The risk rules while none is stored: rules that stop nothing by default. */
  readonly riskRules?: RuleSetInput;
  /** How long a payer's close of a payment session waits before it settles (15 s by default). */
  readonly sessionCloseGraceMs?: number;
}

async function startWorld(options: BrowserSuiteOptions): Promise<BrowserWorld> {
  const platform = await createPlatform({
    dataDir: tempDir('mite-web-'),
    env: { ...options.env },
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    logger: pino({ level: 'silent' }),
    funding: { provider: 'sandbox', confirmDelayMs: sandboxConfirmDelayMs },
    webRoot: webDistDir,
    // Sign-up and log-in allow 10 a minute per client address: each test's browser and each
    // setup call says it is a client of its own (clientAddress), as behind a proxy.
    trustProxy: '127.0.0.1',
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    // The suite's tests share one platform and pay often; the risk rules have their own tests
    // (risk/risk-policy.test.ts), and the console's page puts a set in force in a suite of its own.
    riskRules: options.riskRules ?? noRiskRules,
    ...(options.sessionCloseGraceMs === undefined
      ? {}
      : { sessionCloseGraceMs: options.sessionCloseGraceMs }),
  });
  try {
    const baseUrl = await platform.app.listen({ port: 0, host: '127.0.0.1' });
    const admin = await platform.bootstrapAdminKey();
    if (admin === undefined) throw new Error('a fresh platform makes its first admin key');
    // Root (CI) cannot use Chromium's sandbox; other users keep it. Containers often have a
    // small /dev/shm, where Chromium would run out of shared memory: it uses /tmp instead.
    const args = ['--disable-dev-shm-usage', ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])];
    const browser = await chromium.launch({ executablePath: chromiumPath, args });
    return { browser, platform, baseUrl, adminKey: admin.secret };
  } catch (error) {
    await platform.close();
    throw error;
  }
}

/**
 * A suite of browser tests: skipped with the reason where Chromium or the build is missing (and
 * failing instead on CI), with one platform and one browser for all of its tests.
 */
export function describeInBrowser(
  name: string,
  body: (test: (title: string, run: BrowserTestRun, options?: BrowserTestOptions) => void) => void,
  suiteOptions: BrowserSuiteOptions = {},
): void {
  const skip = browserSkipReason();
  describe(name, { ...(skip === undefined ? {} : { skip }), timeout: 120_000 }, () => {
    let world: BrowserWorld | undefined;
    before(async () => {
      world = await startWorld(suiteOptions);
    });
    after(async () => {
      await world?.browser.close();
      await world?.platform.close();
    });
    const suiteDir = path.join(testResultsDir, slug(name));
    body((title, run, options = {}) => {
      it(title, async (t) => {
        if (world === undefined) throw new Error('the browser world did not start');
        await runBrowserTest(t, world, path.join(suiteDir, slug(title)), run, options);
      });
    });
  });
}

export type BrowserTestRun = (kit: BrowserTestKit) => Promise<void>;

/**
 * Failures seen on the context's pages (the test's page and any window it opens) whatever the
 * test checks: policy violations, errors, requests to origins not allowed.
 */
function watchPages(context: BrowserContext, page: Page, allowedOrigins: Set<string>): string[] {
  const problems: string[] = [];
  const watch = (watched: Page): void => {
    watched.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
    });
    watched.on('pageerror', (error) => problems.push(`script error: ${error.message}`));
  };
  watch(page);
  context.on('page', watch);
  context.on('request', (request) => {
    const url = request.url();
    if (url.startsWith('data:')) return;
    if (!allowedOrigins.has(new URL(url).origin)) {
      problems.push(`request to another origin: ${url}`);
    }
  });
  return problems;
}

async function runBrowserTest(
  _t: TestContext,
  world: BrowserWorld,
  filesPrefix: string,
  run: BrowserTestRun,
  options: BrowserTestOptions,
): Promise<void> {
  mkdirSync(path.dirname(filesPrefix), { recursive: true });
  const context = await world.browser.newContext({
    viewport: options.viewport ?? viewports.desktop,
    baseURL: world.baseUrl,
    ...(options.ownClientAddress === false
      ? {}
      : { extraHTTPHeaders: { 'x-forwarded-for': clientAddress() } }),
  });
  await context.tracing.start({ screenshots: true, snapshots: true });
  const page = await context.newPage();
  const allowedOrigins = new Set([world.baseUrl]);
  const problems = watchPages(context, page, allowedOrigins);
  const kit: BrowserTestKit = {
    world,
    context,
    page,
    open: async (pathname) => {
      await page.goto(pathname, { waitUntil: 'load' });
    },
    screenshot: async (name, of = page) => {
      await of.screenshot({ path: `${filesPrefix}-${slug(name)}.png`, fullPage: true });
    },
    allowOrigin: (origin) => {
      allowedOrigins.add(origin);
    },
  };
  try {
    await run(kit);
    if (problems.length > 0) throw new Error(`the page misbehaved:\n${problems.join('\n')}`);
    await context.tracing.stop();
  } catch (error) {
    await bounded(context.tracing.stop({ path: `${filesPrefix}-trace.zip` }));
    throw error;
  } finally {
    await bounded(
      page.screenshot({ path: `${filesPrefix}.png`, fullPage: true, timeout: cleanupStepMsMax }),
    );
    await bounded(context.close());
  }
}

/**
 * How long each clean-up step after a test (its trace, its last screenshot, closing its
 * context) may take: a window the test left open mid-payment must not hold a failing test
 * until the suite's timeout, which would hide its error.
 */
const cleanupStepMsMax = 15_000;

/** Waits for a clean-up step, at most cleanupStepMsMax; its failure is not the test's. */
async function bounded(step: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, cleanupStepMsMax);
  });
  try {
    await Promise.race([step.then(() => undefined).catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly unknown[] }[];
}

/**
 * The page's serious and critical accessibility violations, by axe-core. axe is evaluated through
 * the DevTools protocol, which the page's Content-Security-Policy does not govern (an injected
 * script tag would be refused, rightly).
 */
export async function seriousAxeViolations(page: Page): Promise<string[]> {
  await page.evaluate(`${axeSource}\n;undefined`);
  const violations = (await page.evaluate(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations)`,
  )) as AxeViolation[];
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map(
      (violation) =>
        `${violation.id} (${violation.impact}): ${violation.help} at ` +
        violation.nodes.map((node) => JSON.stringify(node.target)).join(', '),
    );
}

/** From the start of navigation to the end of the load event, by the page's navigation timing. */
/** Every page of the apps loads in under this on loopback (issue 13's bar). */
export const pageLoadMsMax = 1_000;

/** Loads of a page measured at most, the best counting (see assertLoadedFast). */
const pageLoadTriesMax = 3;

/**
 * Fails unless the page's document loads within pageLoadMsMax. One load on a machine busy with
 * other test files can be late by a stray pause, so a late first load is measured again, up to
 * pageLoadTriesMax times in all, in fresh pages of the same context (the test's page keeps its
 * state), and the best counts: a page that is really slow is slow every time.
 */
export async function assertLoadedFast(page: Page, what: string): Promise<void> {
  const loads = [await loadTimeMs(page)];
  while (Math.min(...loads) >= pageLoadMsMax && loads.length < pageLoadTriesMax) {
    const again = await page.context().newPage();
    try {
      await again.goto(page.url(), { waitUntil: 'load' });
      loads.push(await loadTimeMs(again));
    } finally {
      await again.close();
    }
  }
  if (!(Math.min(...loads) < pageLoadMsMax)) {
    throw new Error(`${what} loaded in ${loads.join(', ')} ms`);
  }
}

export async function loadTimeMs(page: Page): Promise<number> {
  // Expressions as text: this file is type-checked without the DOM's types.
  const measured = await page.evaluate(`(() => {
    const [entry] = performance.getEntriesByType('navigation');
    return entry === undefined || entry.loadEventEnd === 0
      ? null
      : entry.loadEventEnd - entry.startTime;
  })()`);
  return typeof measured === 'number' ? measured : Number.POSITIVE_INFINITY;
}

/**
 * Calls the platform's API as a program would (a bearer credential, a fresh Idempotency-Key on
 * each POST), for a test's setup; fails the test on any answer but a 2xx.
 */
export async function apiCall(
  world: BrowserWorld,
  method: 'GET' | 'POST' | 'PUT',
  pathname: string,
  options: { readonly auth?: string; readonly body?: unknown } = {},
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { 'x-forwarded-for': clientAddress() };
  if (options.auth !== undefined) headers.authorization = `Bearer ${options.auth}`;
  if (method === 'POST') headers['idempotency-key'] = randomUUID();
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${world.baseUrl}${pathname}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${pathname}: ${response.status} ${text}`);
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/**
 * A wallet user made through the API, with $2.00 from a sandbox card top-up, and logged in to the
 * platform in the test's browser (its session cookie) unless `loggedIn` is false. Answers the
 * session's token and how to read the balance.
 */
export async function toppedUpUser(
  kit: BrowserTestKit,
  options: { readonly email: string; readonly password: string; readonly loggedIn?: boolean },
): Promise<{ readonly token: string; balance(): Promise<string> }> {
  const { email, password } = options;
  await apiCall(kit.world, 'POST', '/v1/users', { body: { email, password } });
  const session = await apiCall(kit.world, 'POST', '/v1/sessions', { body: { email, password } });
  const token = String(session.token);
  await apiCall(kit.world, 'POST', '/v1/topups', {
    auth: token,
    body: {
      amount: '2.00',
      card: { number: '4242424242424242', expMonth: 12, expYear: 2039, cvc: '123' },
    },
  });
  if (options.loggedIn !== false) {
    await kit.context.addCookies([
      { name: 'mite_session', value: token, url: kit.world.baseUrl, httpOnly: true, secure: true },
    ]);
  }
  const balance = async () =>
    String((await apiCall(kit.world, 'GET', '/v1/wallet', { auth: token })).balance);
  return { token, balance };
}

/** Whether the page is wider than its viewport (a sideways scroll on a phone). */
export async function overflowsWidth(page: Page): Promise<boolean> {
  return (await page.evaluate(
    'document.documentElement.scrollWidth > window.innerWidth',
  )) as boolean;
}

/**
 * Presses Tab until `selector` has the focus, as a keyboard user would reach it; fails after
 * `pressesMax` presses.
 */
export async function tabTo(page: Page, selector: string, pressesMax = 25): Promise<void> {
  for (let presses = 0; presses < pressesMax; presses++) {
    const focused = await page
      .locator(selector)
      .evaluate((element) => element.ownerDocument.activeElement === element);
    if (focused) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`${selector} was not reached with ${pressesMax} presses of Tab`);
}
