// The ordered list of migrations. Static imports (not a folder scan) so the same list works under
// tsx, vitest and any bundler. Append only.
import type { Migration } from 'kysely';
import * as m0001 from './0001-initial.ts';
import * as m0002 from './0002-owners-refunds-reminders.ts';
import * as m0003 from './0003-dialogue-state.ts';
import * as m0004 from './0004-telegram.ts';
import * as m0005 from './0005-wechat.ts';
import * as m0006 from './0006-owner-scopes.ts';
import * as m0007 from './0007-access-reconcile.ts';
import * as m0008 from './0008-webhook-payload-retention.ts';
import * as m0009 from './0009-roster.ts';
import * as m0010 from './0010-clock-offset.ts';
import * as m0011 from './0011-sweep-indexes-job-platform.ts';
import * as m0012 from './0012-invite-removal-lanes.ts';
import * as m0013 from './0013-join-review.ts';
import * as m0014 from './0014-refund-window.ts';
import * as m0015 from './0015-payment-attempts.ts';
import * as m0016 from './0016-plan-stars-price.ts';
import * as m0017 from './0017-subscriptions.ts';
import * as m0018 from './0018-door-queries.ts';
import * as m0020 from './0020-trials-coupons-winback.ts';
import * as m0021 from './0021-referrals-digest.ts';
import * as m0022 from './0022-console.ts';
import * as m0023 from './0023-subscription-state-changed.ts';
import * as m0024 from './0024-broadcasts.ts';
import * as m0025 from './0025-console-presses.ts';

export const migrations: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-owners-refunds-reminders': m0002,
  '0003-dialogue-state': m0003,
  '0004-telegram': m0004,
  '0005-wechat': m0005,
  '0006-owner-scopes': m0006,
  '0007-access-reconcile': m0007,
  '0008-webhook-payload-retention': m0008,
  '0009-roster': m0009,
  '0010-clock-offset': m0010,
  '0011-sweep-indexes-job-platform': m0011,
  '0012-invite-removal-lanes': m0012,
  '0013-join-review': m0013,
  '0014-refund-window': m0014,
  '0015-payment-attempts': m0015,
  '0016-plan-stars-price': m0016,
  '0017-subscriptions': m0017,
  '0018-door-queries': m0018,
  '0020-trials-coupons-winback': m0020,
  '0021-referrals-digest': m0021,
  '0022-console': m0022,
  '0023-subscription-state-changed': m0023,
  '0024-broadcasts': m0024,
  '0025-console-presses': m0025,
};
