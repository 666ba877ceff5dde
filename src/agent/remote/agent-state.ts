// What a joined agent keeps in its data folder (agent.json, 0600): the controller, its pinned fingerprint, its host
// name and its own credential — used at every start after the first, so the join token is needed once. With a
// standby controller, the other controllers' addresses too: the agent dials each in turn until one leads.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AgentCredential } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import { HostName } from '../../contract/hosts.js';

export const AgentState = z.object({ controller: z.string().url(), controllers: z.array(z.string().url()).optional(), fingerprint: z.string(), host: HostName, credential: AgentCredential }).strict();
export type AgentState = z.infer<typeof AgentState>;

export const agentStatePath = (dataDir: string): string => join(dataDir, 'agent.json');

/** The controllers to dial in turn: those given (--controller, repeatable), else the saved ones; each origin once. */
export function controllerCandidates(saved: Pick<AgentState, 'controller' | 'controllers'>, given: readonly string[] | undefined): string[] {
  const all = given && given.length > 0 ? given : [saved.controller, ...(saved.controllers ?? [])];
  return [...new Set(all.map((u) => new URL(u).origin))];
}

/** After a link attempt: a link that was accepted and then closed is dialled again; a failed dial moves on. */
export function controllerAfter(count: number, current: number, linked: boolean): number {
  return linked ? current : (current + 1) % count;
}

export function agentStateRead(dataDir: string): AgentState | undefined {
  let text: string;
  try {
    text = readFileSync(agentStatePath(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const r = AgentState.safeParse(JSON.parse(text));
  if (!r.success) throw new ArdesiaError('AGENT_NOT_JOINED', `${agentStatePath(dataDir)} is damaged (${r.error.issues[0]?.message}); join again with --join TOKEN`);
  return r.data;
}

/** Written whole (temp file then rename) and owner-only: the credential is the host's identity. */
export function agentStateWrite(dataDir: string, state: AgentState): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = agentStatePath(dataDir);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(AgentState.parse(state), null, 2)}\n`, { mode: 0o600 });
  chmodSync(`${path}.tmp`, 0o600);
  renameSync(`${path}.tmp`, path);
}
