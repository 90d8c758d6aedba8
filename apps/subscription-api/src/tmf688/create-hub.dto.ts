import { z } from 'zod';

/** TMF688 Hub registration. `@`-fields of TMF's polymorphism pattern are accepted and ignored. */
export const createHubSchema = z
  .strictObject({
    callback: z.string().min(1).max(2048).describe('The listener URL events are POSTed to.'),
    query: z
      .string()
      .max(2000)
      .optional()
      .describe('Which events: eventType=OrderCreateEvent,OrderStateChangeEvent (default: all).'),
    '@type': z.string().optional(),
    '@baseType': z.string().optional(),
    '@schemaLocation': z.string().optional(),
  })
  .describe('A TMF688 hub (listener) registration.');
