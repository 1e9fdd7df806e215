// One signed call to Alipay's gateway.do and one verified answer.
//
// Who failed, decided here for every Alipay method:
//   - no answer, a cut-off answer, a non-200 status, a body that is not JSON, an answer without a valid
//     signature (over the exact text of its response node): we do not know what Alipay did →
//     ProviderUnreachableError (the order stays as it is; retries and reconcile settle it);
//   - code 10000: success, the verified response node is returned;
//   - code 20000 (service unavailable, isp.*) and sub_code ACQ.SYSTEM_ERROR: Alipay itself says the
//     outcome is unknown and asks callers to query or retry with the same numbers → ProviderUnreachableError;
//     10003 ("processing") is the same kind of answer;
//   - any other code (40001 missing arguments, 40002 invalid arguments/signature, 40004 business failure,
//     40006 insufficient permissions): a signed, definite "no" → AlipayBusinessError, a ProviderRejectedError
//     that keeps code and sub_code so callers can read ACQ.TRADE_NOT_EXIST and friends.
import type { KeyObject } from 'node:crypto';
import type { AlipayConfig } from '../../config.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../domain/errors.ts';
import type { Clock } from '../../domain/time.ts';
import { providerFetch } from '../http.ts';
import { encodeForm, formatAlipayTime } from './alipay-format.ts';
import { type AlipayParams, privateKey, publicKey, rsa2Sign, rsa2Verify, signContent, topLevelMembers } from './alipay-signing.ts';

export const PROVIDER = 'alipay';

/** A signed, definite refusal from Alipay. */
export class AlipayBusinessError extends ProviderRejectedError {
  constructor(
    override readonly method: string,
    readonly code: string,
    readonly subCode: string | null,
    readonly subMsg: string | null,
  ) {
    super(PROVIDER, `${method}: ${code}${subCode ? ` ${subCode}` : ''}${subMsg ? ` (${subMsg.slice(0, 120)})` : ''}`, subCode ?? code, { method });
    this.name = 'AlipayBusinessError';
  }
}

export type ResponseNode = Record<string, unknown>;

/** Codes meaning "we could not tell you": the call may or may not have taken effect. */
const UNKNOWN_OUTCOME_CODES = new Set(['20000', '10003']);
const UNKNOWN_OUTCOME_SUB_CODES = new Set(['ACQ.SYSTEM_ERROR', 'aop.ACQ.SYSTEM_ERROR', 'isp.unknow-error', 'isp.unknown-error']);

export interface AlipayGatewayOptions {
  timeoutMs?: number;
}

export class AlipayGateway {
  private readonly appKey: KeyObject;
  private readonly alipayKey: KeyObject;

  constructor(
    private readonly config: AlipayConfig,
    private readonly clock: Clock,
    private readonly opts: AlipayGatewayOptions = {},
  ) {
    this.appKey = privateKey(config.privateKeyPem);
    this.alipayKey = publicKey(config.alipayPublicKeyPem);
  }

  /** The signed form for `method` (exposed for tests: what goes over the wire). */
  buildRequest(method: string, biz: Record<string, unknown>, extra: { notifyUrl?: string; returnUrl?: string } = {}): AlipayParams {
    const params: AlipayParams = {
      app_id: this.config.appId,
      method,
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'RSA2',
      timestamp: formatAlipayTime(this.clock.now()),
      version: '1.0',
      biz_content: JSON.stringify(biz),
    };
    if (extra.notifyUrl) params.notify_url = extra.notifyUrl;
    if (extra.returnUrl) params.return_url = extra.returnUrl;
    params.sign = rsa2Sign(signContent(params), this.appKey);
    return params;
  }

  /**
   * A page-redirect method (alipay.trade.wap.pay): nothing is called here; the person's browser takes the
   * signed request to the gateway (GET with the parameters in the query, utf-8).
   */
  pageRedirectUrl(method: string, biz: Record<string, unknown>, extra: { notifyUrl?: string; returnUrl?: string }): string {
    const params = this.buildRequest(method, biz, extra);
    const sep = this.config.gateway.includes('?') ? '&' : '?';
    return `${this.config.gateway}${sep}${encodeForm(params)}`;
  }

  /** Calls `method`; returns its verified response node when code is 10000 (see the header for the rest). */
  async call(method: string, biz: Record<string, unknown>, extra: { notifyUrl?: string } = {}): Promise<ResponseNode> {
    const params = this.buildRequest(method, biz, extra);
    const res = await providerFetch(PROVIDER, this.config.gateway, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8', accept: 'application/json' },
      body: encodeForm(params),
      timeoutMs: this.opts.timeoutMs,
      label: method,
    });
    if (res.status !== 200) throw new ProviderUnreachableError(PROVIDER, `${method}: HTTP ${res.status} from the gateway`, { method });
    const node = this.verifiedNode(method, res.body);
    const code = typeof node.code === 'string' ? node.code : String(node.code ?? '');
    const subCode = typeof node.sub_code === 'string' ? node.sub_code : null;
    if (code === '10000') return node;
    if (UNKNOWN_OUTCOME_CODES.has(code) || (subCode && UNKNOWN_OUTCOME_SUB_CODES.has(subCode))) {
      throw new ProviderUnreachableError(PROVIDER, `${method}: ${code}${subCode ? ` ${subCode}` : ''}, outcome unknown`, { method });
    }
    throw new AlipayBusinessError(method, code, subCode, typeof node.sub_msg === 'string' ? node.sub_msg : typeof node.msg === 'string' ? node.msg : null);
  }

  /** Parses the answer and checks `sign` over the exact text of its response node. */
  private verifiedNode(method: string, body: string): ResponseNode {
    const members = topLevelMembers(body);
    if (!members) throw new ProviderUnreachableError(PROVIDER, `${method}: the answer is not a JSON object`, { method });
    const key = `${method.replaceAll('.', '_')}_response`;
    const nodeText = members.get(key) ?? members.get('error_response');
    if (nodeText === undefined) throw new ProviderUnreachableError(PROVIDER, `${method}: the answer has no ${key}`, { method });
    let node: unknown;
    let sign: unknown;
    try {
      node = JSON.parse(nodeText);
      sign = members.has('sign') ? JSON.parse(members.get('sign')!) : undefined;
    } catch (err) {
      throw new ProviderUnreachableError(PROVIDER, `${method}: the answer is not JSON`, { method, cause: err });
    }
    if (typeof node !== 'object' || node === null || Array.isArray(node))
      throw new ProviderUnreachableError(PROVIDER, `${method}: the response node is not an object`, { method });
    const code = String((node as ResponseNode).code ?? '?').slice(0, 20);
    // Unsigned or badly signed: anyone between us and Alipay could have written it, so it says nothing.
    if (typeof sign !== 'string' || sign === '')
      throw new ProviderUnreachableError(PROVIDER, `${method}: unsigned answer (code ${code}), cannot trust it`, { method });
    if (!rsa2Verify(nodeText, sign, this.alipayKey))
      throw new ProviderUnreachableError(PROVIDER, `${method}: the answer's signature does not verify with the Alipay public key`, { method });
    return node as ResponseNode;
  }
}
