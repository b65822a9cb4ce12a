/**
 * One benchmarked gateway in a child process of its own: `node --import tsx
 * bench/gateway/gateway-process.ts <kind>`. It says `{ listening: true }`, is then sent
 * `{ start: GatewayStartOptions }` over IPC, answers `{ ready: port }`, and on `'stop'` closes and exits (so that a --cpu-prof profile is
 * written).
 */
import { GATEWAY_KINDS, type BenchGateway, type GatewayKind, type GatewayStartOptions } from './servers/types';

// Only the benchmarked gateway's modules are loaded: its process holds nothing of the others.
const STARTERS: Record<GatewayKind, () => (options: GatewayStartOptions) => Promise<BenchGateway>> = {
  concord: () => (require('./servers/concord') as typeof import('./servers/concord')).startConcord,
  'concord-many-tokens': () => (require('./servers/concord') as typeof import('./servers/concord')).startConcord,
  'concord-redis': () => (require('./servers/concord') as typeof import('./servers/concord')).startConcord,
  'apollo-gateway': () => (require('./servers/apollo') as typeof import('./servers/apollo')).startApolloGateway,
  'apollo-lean': () => (require('./servers/apollo-lean') as typeof import('./servers/apollo-lean')).startApolloLean,
  'hive-gateway': () => (require('./servers/hive') as typeof import('./servers/hive')).startHiveGateway,
  grafbase: () => (options) => (require('./servers/grafbase') as typeof import('./servers/grafbase')).startGrafbase(options, true),
  'grafbase-nodedup': () => (options) => (require('./servers/grafbase') as typeof import('./servers/grafbase')).startGrafbase(options, false),
  direct: () => (require('./servers/direct') as typeof import('./servers/direct')).startDirect,
};

// tsx turns source maps on, which makes every Error's stack costly to build; compiled JavaScript in
// production runs without them, so no gateway is charged for it here.
process.setSourceMapsEnabled(false);

const kind = process.argv[2] as GatewayKind;
if (!GATEWAY_KINDS.includes(kind)) throw new Error(`unknown gateway ${kind}; one of ${GATEWAY_KINDS.join(', ')}`);
let running: BenchGateway | null = null;

process.on('message', (message: { start: GatewayStartOptions } | 'stop') => {
  if (message === 'stop') {
    void (running?.close() ?? Promise.resolve()).finally(() => process.exit(0));
    return;
  }
  STARTERS[kind]()(message.start).then(
    (gateway) => {
      running = gateway;
      process.send?.({ ready: gateway.port, pid: gateway.pid ?? process.pid });
    },
    (error: unknown) => {
      process.send?.({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      process.exit(1);
    },
  );
});
process.on('disconnect', () => process.exit(0));
// Messages sent before a listener exists are lost: say when to send them.
process.send?.({ listening: true });
