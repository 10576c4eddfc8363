import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { UploadRow } from '../../../db/deployments/schema';
import { newId } from '../../../db/ids';
import { actingUserId } from '../../common/caller';
import type { UserError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { DeploymentsSettings } from '../config';
import type { DeploymentsScope, DeploymentsStorage } from '../storage';
import type { ProjectIdInput, ProjectsService } from './projects';

const UPLOAD_ID = /^upl_[0-9A-Z]{26}$/;
const hash = (token: string) => createHash('sha256').update(token).digest('hex');

export interface UploadTicket {
  id: string;
  /** PUT the gzipped tarball here; the URL is the only credential it takes. */
  url: string;
  expiresAt: Date;
  maxBytes: number;
}

export interface CreateUploadPayload {
  upload: UploadTicket | null;
  userErrors: UserError[];
}

type UploadSettings = Pick<
  DeploymentsSettings,
  'RUNTIME_DIR' | 'DEPLOYMENTS_PUBLIC_URL' | 'UPLOAD_MAX_BYTES' | 'UPLOAD_TTL_MINUTES'
>;

/**
 * Source archives a CLI uploads to deploy a local folder. The API hands out a URL carrying a
 * single-use token (like a presigned S3 URL); the archive streams to disk under RUNTIME_DIR,
 * never into memory, and is refused past UPLOAD_MAX_BYTES. This is the machinery (the route
 * the archive is PUT to, where it is kept); `createUploadsService` hands out the URLs.
 */
export function createUploads({
  storage,
  settings,
  logger,
}: {
  storage: DeploymentsStorage;
  settings: UploadSettings;
  logger: Logger;
}) {
  const directory = resolve(settings.RUNTIME_DIR, 'uploads');
  let publicUrl = settings.DEPLOYMENTS_PUBLIC_URL;
  const path = (id: string) => join(directory, `${id}.tar.gz`);

  function answer(res: ServerResponse, status: number, message: string) {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
    res.end(JSON.stringify(status < 300 ? { status: 'received' } : { error: message }));
  }

  async function receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://upload');
    const id = url.pathname.slice('/uploads/'.length);
    if (req.method !== 'PUT') return answer(res, 405, 'Upload the archive with PUT.');
    const token = url.searchParams.get('token') ?? '';
    const upload = UPLOAD_ID.test(id) ? await storage.upload(id) : null;
    const given = Buffer.from(hash(token));
    // Unknown, wrong token or expired all look the same to the sender.
    if (!upload || !timingSafeEqual(given, Buffer.from(upload.tokenHash)) || upload.expiresAt < new Date()) {
      return answer(res, 403, 'This upload URL is not valid (it may have expired).');
    }
    if (upload.receivedAt)
      return answer(res, 409, 'Something was already uploaded to this URL; ask for a new one.');
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > settings.UPLOAD_MAX_BYTES)
      return answer(res, 413, `Archives are limited to ${settings.UPLOAD_MAX_BYTES} bytes.`);
    await mkdir(directory, { recursive: true });
    const partial = `${path(id)}.${randomBytes(4).toString('hex')}.part`;
    let size = 0;
    try {
      await pipeline(
        req,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            size += chunk.length;
            if (size > settings.UPLOAD_MAX_BYTES)
              throw Object.assign(new Error('too large'), { tooLarge: true });
            yield chunk;
          }
        },
        createWriteStream(partial),
      );
      if (size === 0) {
        await rm(partial, { force: true });
        return answer(res, 400, 'The upload was empty.');
      }
      if (!(await storage.receiveUpload(id, size))) {
        await rm(partial, { force: true });
        return answer(res, 409, 'Something was already uploaded to this URL; ask for a new one.');
      }
      await rename(partial, path(id));
      answer(res, 201, 'received');
    } catch (error) {
      await rm(partial, { force: true });
      if ((error as { tooLarge?: boolean }).tooLarge) {
        return answer(res, 413, `Archives are limited to ${settings.UPLOAD_MAX_BYTES} bytes.`);
      }
      logger.warn({ err: error, uploadId: id }, 'upload failed');
      if (!res.headersSent) answer(res, 400, 'The upload did not complete.');
    }
  }

  return {
    path,
    route: receive,
    exists: async (id: string) => existsSync(path(id)),
    listening(port: number) {
      publicUrl ??= `http://localhost:${port}`;
    },
    ticket(row: UploadRow, token: string): UploadTicket {
      return {
        id: row.id,
        url: `${publicUrl}/uploads/${row.id}?token=${token}`,
        expiresAt: row.expiresAt,
        maxBytes: settings.UPLOAD_MAX_BYTES,
      };
    },
  };
}

export type Uploads = ReturnType<typeof createUploads>;

export interface UploadsDependencies {
  storage: DeploymentsStorage;
  uploads: Pick<Uploads, 'ticket'>;
  projects: Pick<ProjectsService, 'forChange'>;
  settings: Pick<UploadSettings, 'UPLOAD_TTL_MINUTES'>;
}

/** Upload URLs: handed out to those who may deploy the project. */
export function createUploadsService({ storage, uploads, projects, settings }: UploadsDependencies) {
  return {
    /** A URL to upload an archive of an app's folder to (MEMBER or above), valid once and for UPLOAD_TTL_MINUTES. */
    async create(scope: DeploymentsScope, input: ProjectIdInput): Promise<CreateUploadPayload> {
      const found = await projects.forChange(scope, input.projectId, 'MEMBER');
      if ('userErrors' in found) return { upload: null, ...found };
      const token = randomBytes(32).toString('base64url');
      const row = await storage.insertUpload({
        id: newId('upl'),
        projectId: found.project.id,
        createdBy: actingUserId(scope.caller) ?? '',
        tokenHash: hash(token),
        expiresAt: new Date(Date.now() + settings.UPLOAD_TTL_MINUTES * 60_000),
      });
      return { upload: uploads.ticket(row, token), userErrors: [] };
    },
  };
}
