// The VM routes (vmctl's verbs over HTTP), declared as data: path, access rule, schemas, handler.
import { z } from 'zod';
import { DiskSpec, NicSpec, BootSpec, VmSpec, Arch } from '../contract/vm.js';
import { Readable } from 'node:stream';
import { ArdesiaError } from '../contract/errors.js';
import type { StartCaller } from '../contract/vm.js';
import { ListPageQuery, pageOfQuery } from '../contract/paging.js';
import { DeletedBody, RawBody, StreamBody, VmStatusBody, VmStopBody, VmWaitBody, listOf } from './responses.js';
import { type ApiRoute, defineRoute, type Principal } from './route.js';

/** Who starts a VM, as the owner policy sees them: the unix account's name (its folders), admin or not. */
const startCaller = (who: Principal | undefined): StartCaller | undefined => who && { name: who.unixAccount ?? who.name, admin: who.admin };

const NameParams = z.object({ name: z.string() });

/** What `vm start` may set for one run, or for a VM it creates ad hoc (vmctl start -m -d -b …). */
export const StartBody = z
  .object({
    adHoc: z
      .object({
        memoryMiB: z.number().int().optional(),
        vcpus: z.number().int().optional(),
        arch: Arch.optional(),
        disks: z.array(DiskSpec).optional(),
        cdrom: z.string().optional(),
        boot: BootSpec.partial().optional(),
        nics: z.array(NicSpec).optional(),
        accel: z.enum(['auto', 'kvm', 'tcg']).optional(),
      })
      .strict()
      .optional(),
    template: z.string().optional(),
    /** Boot afresh, deleting a saved state the VM has (`vm start --discard-state`). */
    discardState: z.boolean().optional(),
  })
  .strict()
  .default({});

export const StopBody = z.object({ force: z.boolean().default(false), toDisk: z.boolean().default(false), waitMs: z.number().int().min(0).max(3_600_000).optional() }).strict().default({});
export const WaitBody = z.object({ timeoutMs: z.number().int().min(1).max(86_400_000).default(3_600_000) }).strict().default({});
export const LogQuery = z.object({ bytes: z.coerce.number().int().min(1).max(1 << 20).default(64 * 1024), kind: z.enum(['console', 'qemu']).default('console') });

/** An upload route's body: the request stream (server.ts hands it over for application/octet-stream). */
function uploaded(body: unknown): Readable {
  if (!(body instanceof Readable)) throw new ArdesiaError('BAD_REQUEST', 'send the state as the request body (Content-Type: application/octet-stream)');
  return body;
}

export const vmRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/vms',
    summary: 'List VMs (those the caller may operate; all, or a page: ?limit=N, then the Link header\'s next page)',
    access: 'authenticated',
    query: ListPageQuery,
    response: listOf(VmStatusBody),
    handler: async ({ app, who, query, nextPage }) => {
      // A page is read, then filtered: it may hold fewer VMs than its limit, and the Link header says whether more follow.
      const page = await app.vms.listPage(pageOfQuery(query));
      if (page.next !== undefined) nextPage(page.next);
      return page.items.filter((vm) => app.mayOperate(who, vm.spec));
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/vms',
    summary: 'Define a VM from a spec',
    access: 'admin',
    body: z.object({ spec: VmSpec }).strict(),
    status: 201,
    response: VmStatusBody,
    handler: async ({ app, body }) => {
      const spec = body.spec;
      await app.vms.define([spec], () => 'api');
      return app.vms.get(spec.name);
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/vms/:name',
    summary: 'One VM with its state, accelerator and last stop reason',
    access: 'vm-owner',
    params: NameParams,
    response: VmStatusBody,
    handler: async ({ app, params }) => app.vms.get(params.name),
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/vms/:name',
    summary: 'Forget a stopped VM definition',
    access: 'admin',
    params: NameParams,
    response: DeletedBody,
    handler: async ({ app, params }) => {
      await app.vms.undefine(params.name);
      return { deleted: params.name };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/vms/:name/start',
    summary: 'Start a VM (vmctl start); ad hoc flags define a transient VM',
    access: 'vm-owner-or-new',
    params: NameParams,
    body: StartBody,
    response: VmStatusBody,
    handler: async ({ app, params, body, who }) => {
      return app.vms.start(params.name, body.adHoc, body.template, startCaller(who), { discardState: body.discardState }); // the owner policy and folders go by the unix account's name
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/vms/:name/stop',
    summary: 'ACPI power button, or force; optionally wait until stopped; toDisk: save its state, then stop (the next start resumes it)',
    access: 'vm-owner',
    params: NameParams,
    body: StopBody,
    response: VmStopBody,
    handler: async ({ app, params, body }) => {
      if (!body.toDisk) return app.vms.stop(params.name, body);
      return { stopped: true, reason: (await app.vms.savedStates.save(params.name)).reason };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/vms/:name/send',
    summary: "Send the VM's state (vmctl send): a running VM is saved and stopped; the state is deleted here once sent",
    access: 'vm-owner',
    params: NameParams,
    raw: true,
    contentType: 'application/octet-stream',
    response: StreamBody,
    handler: async ({ app, params }) => app.vms.savedStates.send(params.name),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/vms/:name/receive',
    summary: 'Receive a state sent by vm send (vmctl receive) and resume the VM from it; checked before QEMU starts',
    access: 'vm-owner',
    params: NameParams,
    upload: 'application/octet-stream',
    response: VmStatusBody,
    handler: async ({ app, params, body, who }) => app.vms.savedStates.receive(params.name, uploaded(body), startCaller(who)),
  }),
  ...(['pause', 'unpause', 'reset'] as const).map(
    (verb): ApiRoute => defineRoute({
      method: 'POST',
      url: `/v1/vms/:name/${verb}`,
      summary: `${verb[0]!.toUpperCase()}${verb.slice(1)} a running VM`,
      access: 'vm-owner',
      params: NameParams,
      response: VmStatusBody,
    handler: async ({ app, params }) => app.vms[verb](params.name),
    }),
  ),
  defineRoute({
    method: 'POST',
    url: '/v1/vms/:name/wait',
    summary: 'Wait until the VM stops; returns why it stopped',
    access: 'vm-owner',
    params: NameParams,
    body: WaitBody,
    response: VmWaitBody,
    handler: async ({ app, params, body }) => ({ reason: await app.vms.wait(params.name, body.timeoutMs) }),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/vms/:name/screendump',
    summary: "A PNG of the VM's screen now (thumbnails in the admin console)",
    access: 'vm-owner',
    params: NameParams,
    raw: true,
    contentType: 'image/png',
    response: RawBody,
    handler: async ({ app, params }) => app.vms.screendump(params.name),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/vms/:name/log',
    summary: 'The recent serial console output (or QEMU log), without attaching',
    access: 'vm-owner',
    params: NameParams,
    query: LogQuery,
    raw: true,
    response: RawBody,
    handler: async ({ app, params, query }) => {
      return query.kind === 'qemu' ? app.vms.qemuLog(params.name, query.bytes) : app.vms.consoleLog(params.name, query.bytes);
    },
  }),
];
