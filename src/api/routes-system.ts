// Host, config and disk routes.
import { z } from 'zod';
import { createDisk, DiskCreateBody } from '../storage/disk-create.js';
import { ConfigLoadBody, DiskCreatedBody, HealthBody, HostReportBody, TlsInfoBody } from './responses.js';
import { type ApiRoute, defineRoute } from './route.js';

export const systemRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/healthz',
    summary: 'Liveness: the daemon answers and its store is reachable (503 STORE_UNREACHABLE otherwise)',
    access: 'public',
    response: HealthBody,
    handler: async ({ app }) => app.metrics.health(),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/host',
    summary: 'This host: CPU virtualization features, the KVM probe and the accelerator in use',
    access: 'authenticated',
    response: HostReportBody,
    handler: async ({ app }) => app.hostReport,
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/tls',
    summary: "The HTTPS certificate's SHA-256 fingerprint and Ardesia's CA, for `ardesia login --fingerprint` or --ca (compare them on the server itself)",
    access: 'authenticated',
    response: TlsInfoBody,
    handler: async ({ app }) => ({ https: app.tls.https !== undefined, fingerprint: app.tls.https?.fingerprint, subject: app.tls.https?.subject, caPem: app.tls.https?.caPem }),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/config/load',
    summary: 'Load a vm.conf (or YAML/JSON) file and define its VMs (vmctl load)',
    access: 'admin',
    body: z.object({ path: z.string().min(1) }).strict(),
    response: ConfigLoadBody,
    handler: async ({ app, body }) => app.configLoad(body.path),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/config/reload',
    summary: 'Re-read the loaded configuration; forget stopped VMs no longer in it (vmctl reload)',
    access: 'admin',
    response: ConfigLoadBody,
    handler: async ({ app }) => app.configReload(),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/disks',
    summary: 'Create a disk image (vmctl create): empty, on a base image, or converted from another image',
    access: 'admin',
    body: DiskCreateBody,
    status: 201,
    response: DiskCreatedBody,
    handler: async ({ body }) => createDisk(body),
  }),
];
