// Audit rows about a group, written the same way wherever a group's settings or roster change.
import type { AuditEntry } from './model.ts';

/** An audit row about `group`; `actor` is a label (`system`, `account:7`, `admin:cli`, see actorLabel). */
export function groupAudit(at: number, actor: string, group: { id: number }, action: string, reason: string, detail: unknown = null): Omit<AuditEntry, 'id'> {
  return { at, actor, action, subjectType: 'group', subjectId: String(group.id), reason, detail };
}
