/**
 * Runs one subgraph in its own process: `npm run start:subgraph -- accounts`.
 * The port is the registry's unless PORT is set (containers run one subgraph each).
 */
import { runUntilSignal } from '../subgraphs/common/process';
import { startSubgraph } from '../subgraphs/common/server';
import { isSubgraphName, subgraphNames, subgraphs } from '../subgraphs/registry';

const name = process.argv[2] ?? '';
if (!isSubgraphName(name)) {
  console.error(`Usage: npm run start:subgraph -- <${subgraphNames.join('|')}>`);
  process.exit(2);
}
const running = await startSubgraph(await subgraphs[name].load(), { port: subgraphs[name].port });
runUntilSignal(running.logger, running.close);
