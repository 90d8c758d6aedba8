import { startGateway, type GatewayOptions } from '../src/gateway';

// A launcher for tests that kill it: startGateway, in a process of its own, with the options in
// JSON as its argument (data folder, ports, environment). It prints the gateway's log, then
// "ready" once every app is, and runs until it is killed.

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const options = JSON.parse(process.argv[2] ?? '{}') as GatewayOptions;

startGateway({ ...options, log: say }).then(
  () => say('ready'),
  (error: unknown) => {
    say(`failed: ${String(error)}`);
    process.exit(1);
  },
);
