// The playground shows a free trial and a coupon (issue 16): the seeded demo group has a 7-day plan with a 3-day
// trial and the demo coupon DEMO50 (half off the monthly plan), and a person on the page tries both through /playground/api/send with the real dialogue engine.
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_COUPON, seedPlaygroundDemo } from '../../../bots/playground/seed.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { startTestService, type TestService } from '../../helpers/service.ts';

describe.each(DIALECTS)('the playground demo of trials and coupons (%s)', (dialect) => {
  let t: TestService;
  afterEach(async () => {
    await t?.close();
  });

  it('a person starts the free trial from the plan menu; another applies DEMO50 and sees half the price', async () => {
    t = await startTestService(dialect, { PLAYGROUND: 'on' });
    const { app, deps } = t.service;
    const seeded = (await seedPlaygroundDemo(deps))!;
    expect(seeded.trial).toMatchObject({ name: 'Taster week', trialDays: 3, durationDays: 7 });

    const person = async (name: string) => {
      const made = (await app.inject({ method: 'POST', url: '/playground/api/people', payload: { name } })).json() as { userId: string; token: string };
      return async (m: { text?: string; choice?: string }) => {
        const r = await app.inject({
          method: 'POST',
          url: '/playground/api/send',
          headers: { authorization: `Bearer ${made.token}` },
          payload: { userId: made.userId, locale: 'en', ...m },
        });
        expect(r.statusCode).toBe(200);
        return r.json().replies as Array<{ text?: string; caption?: string; choices?: Array<{ value: string; label: string }> }>;
      };
    };

    const ann = await person('Ann');
    const menu = await ann({ choice: `plan:${seeded.trial.id}` });
    expect(menu.flatMap((r) => r.choices ?? []).map((c) => c.label)).toContain('Start free trial (3 days)');
    const started = await ann({ choice: `trial:${seeded.trial.id}` });
    expect(started.map((r) => r.text ?? '').join('\n')).toMatch(/^Your free trial of "Taster week" has started: 3 days/);

    const bob = await person('Bob');
    const applied = (await bob({ text: `/coupon ${DEMO_COUPON.toLowerCase()}` })).map((r) => r.text ?? r.caption ?? '').join('\n');
    expect(applied).toContain('Coupon DEMO50 applied to "Monthly": 4.95 CNY instead of 9.90 CNY.');
    expect(applied).toContain('List price 9.90 CNY, coupon DEMO50: you pay 4.95 CNY.');
  });
});
