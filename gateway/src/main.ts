/**
 * The gateway process: `npm run start:gateway -- [--supergraph path] [--port n] [--from-subgraphs]`.
 */
import { runUntilSignal } from '../../subgraphs/common/process';
import { createGateway } from './app';
import { loadGatewayConfig } from './config';

// Construct sends nothing to third parties: Apollo's gateway reports usage unless told not to.
process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';

const config = loadGatewayConfig();
const gateway = await createGateway(config);
const port = await gateway.listen();
gateway.logger.info({ url: `http://localhost:${port}/graphql` }, 'gateway ready');
runUntilSignal(gateway.logger, gateway.close);
