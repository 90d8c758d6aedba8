export { startHttpApp, type HttpAppOptions } from './http-app';
export { httpServerConfig, type HttpServerConfig } from './http-server.config';
