import 'reflect-metadata';
import { Global, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pino from 'pino';
import { LOGGER, ReadinessRegistry } from '@herald/observability';
import { KafkaConnection } from './kafka.connection';
import { KafkaModule } from './kafka.module';
import { KafkaPublisher } from './kafka.publisher';
import { testKafkaConfig } from './testing';
import { TopicProvisioner } from './topic.provisioner';

@Global()
@Module({
  providers: [
    { provide: LOGGER, useValue: pino({ level: 'silent' }) },
    { provide: ReadinessRegistry, useValue: new ReadinessRegistry() },
  ],
  exports: [LOGGER, ReadinessRegistry],
})
class FakeObservabilityModule {}

describe('KafkaModule', () => {
  it('provides the connection, publisher and provisioner, and closes them on shutdown', async () => {
    const app = await NestFactory.createApplicationContext(
      {
        module: class TestAppModule {},
        imports: [
          FakeObservabilityModule,
          KafkaModule.forRoot(testKafkaConfig('127.0.0.1:1'), 't'),
        ],
      },
      { logger: false },
    );
    expect(app.get(KafkaConnection)).toBeInstanceOf(KafkaConnection);
    const publisher = app.get(KafkaPublisher);
    expect(app.get(TopicProvisioner)).toBeInstanceOf(TopicProvisioner);
    await app.close();
    await expect(
      publisher.publish([{ topic: 't', key: null, value: 'v', headers: {} }]),
    ).rejects.toMatchObject({
      code: 'kafka.unavailable',
    });
  });
});
