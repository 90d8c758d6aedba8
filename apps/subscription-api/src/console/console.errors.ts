import { HeraldError } from '@herald/errors';

/** The console has not been built into the folder this process serves it from (404). */
export class ConsoleBuildNotFoundError extends HeraldError {
  constructor(dir: string) {
    super(
      'console.build_not_found',
      `The partner console is not built: ${dir} has no index.html. Build it with \`npm run build -w apps/console\` (npm start builds it too), or point HERALD_CONSOLE_DIR at a build.`,
    );
  }
}

/** A console file that does not exist, like a stale asset name (404). */
export class ConsoleFileNotFoundError extends HeraldError {
  constructor(path: string) {
    super('console.file_not_found', `The console has no file ${JSON.stringify(path)}`);
  }
}
