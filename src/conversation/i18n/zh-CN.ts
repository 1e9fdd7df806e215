import type { MessageKey } from './en.ts';

// 简体中文目录。`{name}` 为参数；以 `At` 结尾的参数是时间，按 TZ_DISPLAY 显示为日期。
export const zhCN: Record<MessageKey, string> = {
  'payment.confirmed': '已收到付款，谢谢！您的「{plan}」会员（{groups}）有效期至 {expiresAt}。',
  'membership.removed_expired': '您在「{group}」的会员已到期，已被移出群。随时发送 续费 即可回来。',
  'membership.removed_revoked': '您在「{group}」的访问权限已被撤销。如有疑问请发送 帮助。',
  'membership.removed_banned': '群主已将您移出「{group}」。',
  'owner.unknown_order': '提醒：{provider} 通知了一笔 {amount} 的付款，但找不到对应订单（{outTradeNo}），请到支付平台核对。',
  'owner.order_review': '订单 {orderId} 需要您审核：{reason}。请批准或退款。',
  'owner.job_dead': '「{kind}」任务在尝试 {attempts} 次后放弃：{error}。请检查机器人的权限。',
  'pay.title': '支付「{plan}」',
  'pay.amount': '金额',
  'pay.scan': '请用支付应用扫描二维码，或打开下方链接。',
  'pay.open_link': '打开支付链接',
  'pay.expires': '订单有效期至 {expiresAt}。',
  'pay.dev_button': '立即支付（测试）',
  'pay.dev_note': '测试模式：不会真实扣款。',
  'pay.status.pending': '等待付款…',
  'pay.status.paid': '已付款，谢谢！请回到聊天窗口，入群邀请马上送到。',
  'pay.status.expired': '订单已过期，请回到聊天重新下单。',
  'pay.status.review': '已收到付款，群主正在核对。',
  'pay.status.refund_pending': '退款处理中。',
  'pay.status.refunded': '此订单已退款。',
  'pay.not_found': '订单不存在。',
};
