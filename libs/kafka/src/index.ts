export { kafkaConfig, type KafkaConfig, EMBEDDED_BROKER } from './kafka.config';
export { KafkaConnection, kafkaLogCreator } from './kafka.connection';
export { KafkaModule } from './kafka.module';
