// English catalogue. `{name}` is replaced by a parameter; parameters ending in `At` are times and are
// shown as dates in TZ_DISPLAY.
export const en = {
  'payment.confirmed': 'Payment received, thank you! Your "{plan}" membership for {groups} is active until {expiresAt}.',
  'membership.removed_expired': 'Your membership of "{group}" has ended and you have been removed from the group. Renew any time with /renew to come back.',
  'membership.removed_revoked': 'Your access to "{group}" has been withdrawn. Send /help if you think this is a mistake.',
  'membership.removed_banned': 'You have been removed from "{group}" by its owner.',
  'membership.extended': 'Good news: your membership of "{group}" was extended by {days} day(s), until {expiresAt}.',
  'reminder.before': 'Your membership of "{group}" ends on {expiresAt} ({days} day(s) left). Send /renew to renew; the new period starts when this one ends, so you lose nothing.',
  'reminder.grace': 'Your membership of "{group}" has ended. You can stay until {graceUntil}; send /renew now to keep your place.',
  'refund.done': 'Your payment of {amount} has been refunded.',
  'owner.refund_refused': 'The refund of order {orderId} was refused by the payment provider: {reason}. The order is paid again.',
  'owner.unknown_order': 'Alert: {provider} reported a payment of {amount} for an order we do not know ({outTradeNo}). Please check it with the provider.',
  'owner.order_review': 'Order {orderId} needs your review: {reason}. Approve it or refund it.',
  'owner.job_dead': 'Gave up on a "{kind}" task after {attempts} attempt(s): {error}. Please check the bot\'s permissions.',
  'pay.title': 'Pay for {plan}',
  'pay.amount': 'Amount',
  'pay.scan': 'Scan the code with your payment app, or open the link below.',
  'pay.open_link': 'Open payment link',
  'pay.expires': 'This order is open until {expiresAt}.',
  'pay.dev_button': 'Pay now (test payment)',
  'pay.dev_note': 'Test mode: no real money moves.',
  'pay.status.pending': 'Waiting for payment…',
  'pay.status.paid': 'Paid. Thank you! Go back to the chat: your invitation is on its way.',
  'pay.status.expired': 'This order has expired. Start again from the chat to get a new one.',
  'pay.status.review': 'Payment received; the group owner is checking it.',
  'pay.status.refund_pending': 'A refund is in progress.',
  'pay.status.refunded': 'This order was refunded.',
  'pay.not_found': 'No such order.',
} as const;

export type MessageKey = keyof typeof en;
