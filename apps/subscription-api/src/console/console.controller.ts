import { readFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { Controller, Get, Header, Inject, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleConfig } from './console.config';
import { ConsoleBuildNotFoundError, ConsoleFileNotFoundError } from './console.errors';
import {
  consoleCacheControl,
  consoleContentSecurityPolicy,
  consoleContentType,
  consoleTarget,
} from './console-files';

export const CONSOLE_CONFIG = Symbol('CONSOLE_CONFIG');

const PREFIX = '/console/';

/**
 * Serves the partner console (apps/console's static build) at `/console`: its files, and its
 * index.html for every client route, so a reload on `/console/subscriptions/sub_…` works. Files
 * are read on each request: a rebuild is served at once, and nothing is cached in memory. The
 * console itself is public, like any web page; everything it shows comes from the API with the
 * partner's key.
 */
@ApiExcludeController()
@Controller('console')
export class ConsoleController {
  private readonly root: string;
  private readonly contentSecurityPolicy: string;

  constructor(@Inject(CONSOLE_CONFIG) private readonly config: ConsoleConfig) {
    // Relative to the working directory, like every path in Herald's configuration.
    this.root = resolve(config.dir);
    this.contentSecurityPolicy = consoleContentSecurityPolicy(config.streamsUrl);
  }

  @Get()
  async index(@Res() reply: FastifyReply): Promise<void> {
    await this.sendPage(reply);
  }

  /** What the console needs to know about this deployment: where the streams API is. */
  @Get('config.json')
  @Header('cache-control', 'no-cache')
  settings(): { streamsUrl: string } {
    return { streamsUrl: this.config.streamsUrl };
  }

  @Get('*')
  async file(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const path = request.url.split('?')[0]!;
    const target = consoleTarget(path.startsWith(PREFIX) ? path.slice(PREFIX.length) : '');
    switch (target.kind) {
      case 'page':
        await this.sendPage(reply);
        return;
      case 'missing':
        throw new ConsoleFileNotFoundError(path);
      case 'file': {
        const body = await this.read(target.path);
        if (body === null) throw new ConsoleFileNotFoundError(path);
        await reply
          .header('content-type', consoleContentType(target.path))
          .header('cache-control', consoleCacheControl(target.path))
          .header('x-content-type-options', 'nosniff')
          .send(body);
        return;
      }
    }
  }

  private async sendPage(reply: FastifyReply): Promise<void> {
    const page = await this.read('index.html');
    if (page === null) throw new ConsoleBuildNotFoundError(this.config.dir);
    await reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', this.contentSecurityPolicy)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(page);
  }

  /** A file of the build, or null when there is none by that name. */
  private async read(relativePath: string): Promise<Buffer | null> {
    const file = join(this.root, relativePath);
    if (!file.startsWith(this.root + sep)) return null;
    try {
      return await readFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return null;
      throw error;
    }
  }
}
