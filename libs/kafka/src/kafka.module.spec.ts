import 'reflect-metadata';
import { Global, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pino from 'pino';
import { LOGGER, MetricsRegistry, ReadinessRegistry } from '@herald/observability';
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
    { provide: MetricsRegistry, useValue: new MetricsRegistry('t') },
  ],
  exports: [LOGGER, ReadinessRegistry, MetricsRegistry],
})
class FakeObservabilityModule {}

describe('KafkaModule', () => {
  it('provides the connection, publisher (counting on the app registry) and provisioner, and closes them on shutdown', async () => {
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
    // The publisher counts on the app's registry.
    const { registry } = app.get(MetricsRegistry);
    expect(registry.getSingleMetric('herald_kafka_publish_refused_total')).toBeDefined();
    expect(registry.getSingleMetric('herald_kafka_publisher_partitions_added_total')).toBeDefined();
    await app.close();
    await expect(
      publisher.publish([{ topic: 't', key: null, value: 'v', headers: {} }]),
    ).rejects.toMatchObject({
      code: 'kafka.unavailable',
    });
  });
});
