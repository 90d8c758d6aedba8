export { startHttpApp, type HttpAppOptions } from './http-app';
export { httpServerConfig, type HttpServerConfig } from './http-server.config';
export { ProblemDetailsFilter } from './problem-details.filter';
export { statusForCode, toProblem, sendProblem, type Problem } from './problem-details';
