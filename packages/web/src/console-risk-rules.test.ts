/**
 * The console's risk rules page in a real browser (Chromium) against a real platform on loopback,
 * in a suite of its own since it changes the rules in force: the operator sees the set in force,
 * submits an invalid set and is shown every problem with nothing changed, then a valid one, which
 * is in force at once and heads the history.
 */
import assert from 'node:assert/strict';
import {
  apiCall,
  assertLoadedFast,
  type BrowserTestKit,
  describeInBrowser,
  overflowsWidth,
  seriousAxeViolations,
  viewports,
} from './testing/browser-harness.ts';

/** A velocity rule with these fields changed. */
function velocityRule(changes: Record<string, unknown> = {}) {
  return {
    kind: 'velocity',
    name: 'velocity.payments.user',
    subject: 'user',
    events: ['paymentAttempt'],
    windowSeconds: 600,
    thresholds: [
      { atLeast: 30, verdict: 'challenge' },
      { atLeast: 60, verdict: 'block' },
    ],
    reason: '{count} payment attempts by this {subject} in {windowSeconds} s',
    userMessage: 'There have been many payments from this account in a short time.',
    ...changes,
  };
}

async function logInOperator(kit: BrowserTestKit): Promise<void> {
  const { page } = kit;
  const operator = await kit.world.platform.bootstrapOperator('operator@example.com');
  assert.ok(operator, 'a fresh platform makes its first operator');
  await kit.open('/console/login/');
  await page.getByLabel('Email').fill(operator.email);
  await page.getByLabel('Password').fill(operator.password);
  await Promise.all([
    page.waitForURL('**/console/'),
    page.getByRole('button', { name: 'Log in' }).click(),
  ]);
}

async function checkPage(kit: BrowserTestKit, name: string): Promise<void> {
  await assertLoadedFast(kit.page, name);
  assert.deepEqual(await seriousAxeViolations(kit.page), [], name);
  assert.equal(await overflowsWidth(kit.page), false, `${name} scrolls sideways`);
  await kit.screenshot(name);
}

describeInBrowser('console risk rules', (test) => {
  test(
    'an operator is shown every problem of an invalid rule set, then puts a valid one in force',
    async (kit) => {
      const { page, world } = kit;
      await logInOperator(kit);
      await kit.open('/console/risk-rules/');
      const inForce = page.getByTestId('in-force-version');
      await inForce.getByText('no-risk-rules').waitFor();
      await checkPage(kit, 'risk-rules');

      const rules = page.getByLabel('New rule set (JSON)');
      const invalid = {
        version: 'tighter-2',
        rules: [velocityRule({ name: 'Not A Name', windowSeconds: 0 })],
      };
      await rules.fill(JSON.stringify(invalid, null, 2));
      await page.getByRole('button', { name: 'Put in force' }).click();
      const errors = page.getByTestId('rule-set-errors');
      await errors.waitFor();
      const listed = (await errors.textContent()) ?? '';
      assert.match(listed, /\/rules\/0\/name/);
      assert.match(listed, /\/rules\/0\/windowSeconds/);
      assert.equal(await rules.getAttribute('aria-invalid'), 'true');
      assert.equal((await inForce.textContent())?.trim(), 'no-risk-rules', 'nothing changed');
      await checkPage(kit, 'risk-rules-refused');

      await rules.fill(JSON.stringify({ version: 'tighter-2', rules: [velocityRule()] }, null, 2));
      await page.getByRole('button', { name: 'Put in force' }).click();
      await page.getByTestId('published').getByText('Version tighter-2 is in force.').waitFor();
      await inForce.getByText('tighter-2').waitFor();
      await page
        .getByTestId('history')
        .getByRole('row', { name: /tighter-2.*Yes/ })
        .waitFor();
      const stored = await apiCall(world, 'GET', '/v1/operator/risk/rule-set', {
        auth: world.adminKey,
      });
      assert.equal(stored.version, 'tighter-2');
      await checkPage(kit, 'risk-rules-published');
    },
    { viewport: viewports.phone },
  );
});
