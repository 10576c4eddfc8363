/**
 * The gateway process: `npm run start:gateway -- [--supergraph path] [--port n] [--from-subgraphs]`.
 */
import { disableApolloTelemetry } from '../../subgraphs/common/config';
import { runUntilSignal } from '../../subgraphs/common/process';
import { createGateway } from './app';
import { loadGatewayConfig } from './config';

disableApolloTelemetry();

const config = loadGatewayConfig();
const gateway = await createGateway(config);
const port = await gateway.listen();
gateway.logger.info({ url: `http://localhost:${port}/graphql` }, 'gateway ready');
runUntilSignal(gateway.logger, gateway.close);
