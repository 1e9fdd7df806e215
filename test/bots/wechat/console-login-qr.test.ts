// The console's System page over the real WeChat adapter (wechaty-puppet-mock): while WeChat waits for a scan
// the operator's page shows the login QR as an image, drawn from the code the adapter holds; once logged in,
// the QR is gone and WeChat's row says logged_in.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as PUPPET from 'wechaty-puppet';
import { issueLoginLink } from '../../../src/app/console-auth.ts';
import { startWorld, waitFor, type World } from './harness.ts';

describe('the System page shows the WeChat login QR', () => {
  let w: World;
  beforeEach(async () => {
    w = await startWorld('sqlite', { login: false });
  });
  afterEach(async () => {
    await w.close();
  });

  it('to the operator while WeChat waits for a scan, and not after the login', async () => {
    const app = w.service.app;
    const link = await issueLoginLink(w.service.deps, { kind: 'admin', via: 'cli' }, null);
    const signIn = await app.inject({
      method: 'POST',
      url: '/console/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `token=${new URL(link.url).searchParams.get('token')!}`,
    });
    const cookie = String([signIn.headers['set-cookie']].flat().find((c) => String(c).startsWith('gk_console='))).split(';')[0]!;
    const system = async () => (await app.inject({ method: 'GET', url: '/console/system', headers: { cookie } })).body;

    w.mocker.scan('https://login.weixin.qq.com/l/abc123', PUPPET.types.ScanStatus.Waiting);
    await waitFor(() => w.adapter.login.status === 'waiting_for_scan', 'scan');
    const waiting = await system();
    expect(waiting).toMatch(/<tr id="health-wechat" data-state="warn">/);
    expect(waiting).toMatch(/<img class="sys-qr" id="wechat-qr" src="data:image\/png;base64,[A-Za-z0-9+/=]{200,}"/);
    expect(waiting).not.toContain('abc123'); // an image of the code, not the code as text

    w.mocker.login(w.botUser);
    await waitFor(() => w.adapter.login.loggedIn, 'login');
    const after = await system();
    expect(after).not.toContain('id="wechat-login"');
    expect(after).toMatch(/<tr id="health-wechat" data-state="ok">/);
  });
});
