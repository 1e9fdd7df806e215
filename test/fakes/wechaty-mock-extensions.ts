// wechaty-puppet-mock, made to behave like WeChat where the gatekeeper depends on it. The stock mock's
// roomAdd, roomDel and friendshipAccept only log; here they change the mock rooms and contacts and emit
// the real puppet events, with WeChat's awkward cases as switches:
//   - a room over `invitationThreshold` members: the add becomes an invitation the person must accept
//     (acceptInvitation), no room-join until then;
//   - `confirmRequired` (群聊邀请确认): the add is swallowed silently, never a room-join;
//   - removing needs the bot to own the room; `ignoreRemovals` makes a removal silently not happen;
//   - sends, adds and removals to someone who is not a friend are refused, like WeChat does;
//   - `failNext` makes the next call of a kind throw.
// Everything the bot sends is recorded in `sent` with the fake clock's time, every room operation in `ops`.
import { FileBox, type FileBoxInterface } from 'file-box';
import * as PUPPET from 'wechaty-puppet';
import { type mock, PuppetMock } from 'wechaty-puppet-mock';

type Mocker = InstanceType<typeof mock.Mocker>;
export type ContactMock = ReturnType<Mocker['createContact']>;
export type RoomMock = ReturnType<Mocker['createRoom']>;

export interface SentMessage {
  at: number;
  to: string;
  kind: 'text' | 'image';
  text?: string;
  png?: Buffer;
}

export interface RoomOp {
  at: number;
  op: 'add' | 'del';
  roomId: string;
  contactId: string;
  outcome: 'joined' | 'invitation' | 'swallowed' | 'removed' | 'ignored' | 'refused' | 'failed' | 'already';
}

type FailKind = 'roomAdd' | 'roomDel' | 'send';

let seq = 0;
const newId = (prefix: string) => `${prefix}${Date.now().toString(36)}${(++seq).toString(36)}`;

export class ExtendedPuppetMock extends PuppetMock {
  readonly sent: SentMessage[] = [];
  readonly ops: RoomOp[] = [];
  readonly accepted: string[] = [];
  /** Rooms with 群聊邀请确认 on: adds are swallowed without a word. */
  readonly confirmRequired = new Set<string>();
  /** Rooms where a removal silently does not happen. */
  readonly ignoreRemovals = new Set<string>();
  /** A room with more members than this turns an add into an invitation. */
  invitationThreshold = 40;
  readonly pendingInvitations: Array<{ roomId: string; contactId: string }> = [];
  private readonly failures: Record<FailKind, Error[]> = { roomAdd: [], roomDel: [], send: [] };
  private readonly friendships = new Map<string, PUPPET.payloads.Friendship>();

  constructor(
    mocker: Mocker,
    private readonly now: () => number,
  ) {
    super({ mocker });
  }

  failNext(kind: FailKind, error: Error, times = 1) {
    for (let i = 0; i < times; i++) this.failures[kind].push(error);
  }

  private fail(kind: FailKind) {
    const e = this.failures[kind].shift();
    if (e) throw e;
  }

  private room(roomId: string): PUPPET.payloads.Room {
    return this.mocker.roomPayload(roomId) as PUPPET.payloads.Room;
  }

  private contact(contactId: string): PUPPET.payloads.Contact {
    return this.mocker.contactPayload(contactId) as PUPPET.payloads.Contact;
  }

  private op(o: Omit<RoomOp, 'at'>) {
    this.ops.push({ at: this.now(), ...o });
  }

  // ------------------------------------------------------------ rooms

  override async roomAdd(roomId: string, contactId: string): Promise<void> {
    try {
      this.fail('roomAdd');
    } catch (e) {
      this.op({ op: 'add', roomId, contactId, outcome: 'failed' });
      throw e;
    }
    const room = this.room(roomId);
    if (this.contact(contactId).friend === false) {
      this.op({ op: 'add', roomId, contactId, outcome: 'refused' });
      throw new Error('roomAdd: the contact is not a friend');
    }
    if (room.memberIdList.includes(contactId)) return this.op({ op: 'add', roomId, contactId, outcome: 'already' });
    if (this.confirmRequired.has(roomId)) return this.op({ op: 'add', roomId, contactId, outcome: 'swallowed' });
    if (room.memberIdList.length > this.invitationThreshold) {
      this.pendingInvitations.push({ roomId, contactId });
      return this.op({ op: 'add', roomId, contactId, outcome: 'invitation' });
    }
    room.memberIdList.push(contactId);
    this.op({ op: 'add', roomId, contactId, outcome: 'joined' });
    this.emit('room-join', { inviteeIdList: [contactId], inviterId: this.currentUserId, roomId, timestamp: Date.now() });
  }

  /** The invitee opens the invitation card and joins: room-join at last. */
  acceptInvitation(roomId: string, contactId: string): boolean {
    const i = this.pendingInvitations.findIndex((p) => p.roomId === roomId && p.contactId === contactId);
    if (i < 0) return false;
    this.pendingInvitations.splice(i, 1);
    this.room(roomId).memberIdList.push(contactId);
    this.emit('room-join', { inviteeIdList: [contactId], inviterId: this.currentUserId, roomId, timestamp: Date.now() });
    return true;
  }

  override async roomDel(roomId: string, contactId: string): Promise<void> {
    try {
      this.fail('roomDel');
    } catch (e) {
      this.op({ op: 'del', roomId, contactId, outcome: 'failed' });
      throw e;
    }
    const room = this.room(roomId);
    if (room.ownerId !== this.currentUserId) {
      this.op({ op: 'del', roomId, contactId, outcome: 'refused' });
      throw new Error('roomDel: only the owner of the room can remove members');
    }
    if (this.ignoreRemovals.has(roomId)) return this.op({ op: 'del', roomId, contactId, outcome: 'ignored' });
    const i = room.memberIdList.indexOf(contactId);
    if (i >= 0) room.memberIdList.splice(i, 1);
    this.op({ op: 'del', roomId, contactId, outcome: 'removed' });
    this.emit('room-leave', { removeeIdList: [contactId], removerId: this.currentUserId, roomId, timestamp: Date.now() });
  }

  /** Someone leaves by themselves: WeChat sends no event for that. */
  leaveSilently(roomId: string, contactId: string) {
    const room = this.room(roomId);
    const i = room.memberIdList.indexOf(contactId);
    if (i >= 0) room.memberIdList.splice(i, 1);
  }

  members(roomId: string): string[] {
    return [...this.room(roomId).memberIdList];
  }

  // ------------------------------------------------------------ friendship

  /** A person sends a friend request with a greeting; returns the friendship id. */
  friendRequest(contact: ContactMock, hello: string): string {
    const id = newId('fr');
    this.friendships.set(id, {
      id,
      contactId: contact.id,
      hello,
      type: PUPPET.types.Friendship.Receive,
      timestamp: Math.floor(Date.now() / 1000),
    } as PUPPET.payloads.Friendship);
    this.emit('friendship', { friendshipId: id });
    return id;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the puppet's own signature
  override async friendshipRawPayload(id: string): Promise<any> {
    return this.friendships.get(id) ?? { id };
  }

  override async friendshipAccept(friendshipId: string): Promise<void> {
    const f = this.friendships.get(friendshipId);
    if (!f) throw new Error(`friendshipAccept: unknown friendship ${friendshipId}`);
    this.contact(f.contactId).friend = true;
    this.accepted.push(f.contactId);
    await this.contactPayloadDirty(f.contactId);
  }

  /** The person deletes the bot from their contacts. */
  unfriend(contactId: string) {
    this.contact(contactId).friend = false;
  }

  // ------------------------------------------------------------ contacts

  override async contactAlias(contactId: string): Promise<string>;
  override async contactAlias(contactId: string, alias: string | null): Promise<void>;
  override async contactAlias(contactId: string, alias?: string | null): Promise<string | void> {
    const c = this.contact(contactId);
    if (alias === undefined) return c.alias ?? '';
    c.alias = alias ?? undefined;
  }

  /**
   * What a re-login can do on some puppets: the same person comes back under a new contact id (remark,
   * WeChat ID and name kept). Rooms follow; the old id no longer resolves. Call while logged out.
   */
  reissueContactId(old: ContactMock, id = newId('reissued')): ContactMock {
    const payload = { ...this.contact(old.id), id };
    this.mocker.cacheContactPayload.delete(old.id);
    (this.mocker.ContactMock as unknown as { pool: Map<string, unknown> }).pool.delete(old.id);
    this.cache.contact.delete(old.id);
    for (const room of this.mocker.cacheRoomPayload.values()) {
      room.memberIdList = room.memberIdList.map((m) => (m === old.id ? id : m));
      if (room.ownerId === old.id) room.ownerId = id;
    }
    return this.mocker.createContact(payload);
  }

  // ------------------------------------------------------------ messages

  private checkRecipient(conversationId: string) {
    if (conversationId.includes('@')) return;
    if (this.contact(conversationId).friend === false) throw new Error('messageSend: the contact is not a friend');
  }

  override async messageSendText(conversationId: string, text: string): Promise<void> {
    this.fail('send');
    this.checkRecipient(conversationId);
    this.sent.push({ at: this.now(), to: conversationId, kind: 'text', text });
    return super.messageSendText(conversationId, text);
  }

  override async messageSendFile(conversationId: string, file: FileBoxInterface): Promise<void> {
    this.fail('send');
    this.checkRecipient(conversationId);
    const png = await file.toBuffer();
    this.sent.push({ at: this.now(), to: conversationId, kind: 'image', png });
    // The stock mock can only keep serialisable file boxes: hand it a base64 copy.
    return super.messageSendFile(conversationId, FileBox.fromBase64(png.toString('base64'), file.name));
  }

  /** A message of any type (image, voice, link…) from someone, as WeChat would deliver it. */
  deliver(from: ContactMock, to: { id: string }, type: PUPPET.types.Message, text = '') {
    const id = newId('msg');
    const payload = to.id.includes('@')
      ? { id, talkerId: from.id, roomId: to.id, mentionIdList: [], timestamp: Date.now(), type, text }
      : { id, talkerId: from.id, listenerId: to.id, timestamp: Date.now(), type, text };
    this.mocker.MessageMock.create(payload as PUPPET.payloads.Message);
    this.emit('message', { messageId: id });
  }

  sentTo(contactId: string): SentMessage[] {
    return this.sent.filter((s) => s.to === contactId);
  }

  textsTo(contactId: string): string[] {
    return this.sentTo(contactId).flatMap((s) => (s.kind === 'text' ? [s.text ?? ''] : []));
  }
}
