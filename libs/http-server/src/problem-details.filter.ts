import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Logger } from '@herald/observability';
import { sendProblem, type ProblemReply, type ProblemRequest } from './problem-details';

/** The one HTTP error mapping: every error a handler throws leaves as an RFC 9457 problem. */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendProblem(
      error,
      http.getRequest<ProblemRequest>(),
      http.getResponse<ProblemReply>(),
      this.logger,
    );
  }
}
