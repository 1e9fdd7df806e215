// The Telegram Bot API emulator in a process of its own, driven over IPC by the benchmark (part 4). The
// service under test runs in the benchmark's process there, so the emulator must not share its event loop:
// the emulator's own request handling would otherwise delay the arrival stamps it checks the limits with.
//
// Parent → child: { id, cmd, args }; child → parent: { id, result } | { id, error }, and one
// { event: 'sent', chatId, invite, at } per accepted message (at: the emulator's Date.now()).
import { fileURLToPath } from 'node:url';
import { type ChildProcess, spawn } from 'node:child_process';
import { TelegramEmulator } from '../fakes/telegram-emulator.ts';

type Request = { id: number; cmd: string; args?: Record<string, unknown> };

export interface EmulatorStats {
  calls: Array<{ method: string; at: number; status: number }>;
  violations: Array<{ rule: string; at: number }>;
}

export interface RemoteEmulator {
  url: string;
  /**
   * A supergroup with the bot as an administrator: `payers` who started the bot (not in it), `members` in it;
   * and a second supergroup (the lounge) with `audience` members in it.
   */
  world(
    payers: number,
    members: number,
    audience: number,
  ): Promise<{ chatId: number; payerIds: number[]; memberIds: number[]; loungeChatId: number; audienceIds: number[] }>;
  /** Those of these users who are no longer members of the chat. */
  removed(chatId: number, ids: number[]): Promise<number[]>;
  stats(): Promise<EmulatorStats>;
  onSent: ((m: { chatId: number; invite: boolean; at: number }) => void) | null;
  close(): Promise<void>;
}

/** Starts the emulator child process on 127.0.0.1 with Telegram's real limits and the real clock. */
export async function startRemoteEmulator(token: string): Promise<RemoteEmulator> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  let seq = 0;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const remote: RemoteEmulator = {
    url: '',
    onSent: null,
    world: (payers, members, audience) => call('world', { payers, members, audience }) as ReturnType<RemoteEmulator['world']>,
    removed: (chatId, ids) => call('removed', { chatId, ids }) as Promise<number[]>,
    stats: () => call('stats') as Promise<EmulatorStats>,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await call('close').catch(() => {});
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
  child.on('message', (m: { id?: number; result?: unknown; error?: string; event?: string; chatId?: number; invite?: boolean; at?: number }) => {
    if (m.event === 'sent') return remote.onSent?.({ chatId: m.chatId!, invite: m.invite!, at: m.at! });
    const w = m.id !== undefined ? waiting.get(m.id) : undefined;
    if (!w) return;
    waiting.delete(m.id!);
    if (m.error !== undefined) w.reject(new Error(`emulator process: ${m.error}`));
    else w.resolve(m.result);
  });
  child.on('exit', () => {
    for (const w of waiting.values()) w.reject(new Error('emulator process exited'));
    waiting.clear();
  });
  function call(cmd: string, args?: Record<string, unknown>): Promise<unknown> {
    const id = ++seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`emulator process: ${cmd} timed out`));
      }, 30_000);
      waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      child.send({ id, cmd, args } satisfies Request);
    });
  }
  remote.url = (await call('start', { token })) as string;
  return remote;
}

// ------------------------------------------------------------------ the child

async function serve(): Promise<void> {
  let emu: TelegramEmulator | null = null;
  const reply = (id: number, result: unknown) => process.send!({ id, result });
  process.on('message', (req: Request) => {
    void (async () => {
      try {
        const a = req.args ?? {};
        switch (req.cmd) {
          case 'start': {
            emu = await TelegramEmulator.start({ token: String(a.token) });
            emu.onSent = (m) => {
              const invite = m.reply_markup?.inline_keyboard.flat().some((b) => b.url?.startsWith('https://t.me/+')) ?? false;
              process.send!({ event: 'sent', chatId: m.chat_id, invite, at: Date.now() });
            };
            return reply(req.id, emu.url);
          }
          case 'world': {
            const e = emu!;
            const owner = e.addUser('Owner', { language_code: 'en' });
            const chatId = e.createGroup({ title: 'Bench club', creator: owner, admins: [e.bot] });
            const payers = Array.from({ length: Number(a.payers) }, (_, i) => e.addUser(`Payer ${i}`, { language_code: 'en' }));
            e.markStarted(payers);
            const members = Array.from({ length: Number(a.members) }, (_, i) => e.addUser(`Member ${i}`, { language_code: 'en' }));
            e.seedMembers(chatId, members);
            const loungeChatId = e.createGroup({ title: 'Bench lounge', creator: owner, admins: [e.bot] });
            const audience = Array.from({ length: Number(a.audience) }, (_, i) => e.addUser(`Reader ${i}`, { language_code: 'en' }));
            e.seedMembers(loungeChatId, audience);
            return reply(req.id, {
              chatId,
              payerIds: payers.map((u) => u.id),
              memberIds: members.map((u) => u.id),
              loungeChatId,
              audienceIds: audience.map((u) => u.id),
            });
          }
          case 'removed': {
            const chatId = Number(a.chatId);
            return reply(
              req.id,
              (a.ids as number[]).filter((id) => !emu!.isMember(chatId, id)),
            );
          }
          case 'stats':
            return reply(req.id, {
              calls: emu!.calls.filter((c) => c.method !== 'getUpdates').map((c) => ({ method: c.method, at: c.at, status: c.status })),
              violations: emu!.violations.map((v) => ({ rule: v.rule, at: v.at })),
            } satisfies EmulatorStats);
          case 'close':
            await emu?.close();
            reply(req.id, true);
            process.disconnect();
            return;
          default:
            throw new Error(`unknown command ${req.cmd}`);
        }
      } catch (err) {
        process.send!({ id: req.id, error: err instanceof Error ? err.message : String(err) });
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.send && process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) void serve();
