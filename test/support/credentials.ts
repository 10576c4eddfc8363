import { ANONYMOUS, type Caller } from '../../subgraphs/common/caller';
import { CREDENTIAL_HEADER, CredentialMinter } from '../../subgraphs/common/credential';
import { loadOrCreateKeyPair } from '../../subgraphs/common/keys';

let minter: Promise<CredentialMinter> | undefined;

/**
 * Headers that let a test talk to a subgraph directly, as the gateway would: a credential
 * signed with the development gateway key (the one the test subgraphs trust).
 */
export async function gatewayHeaders(
  subgraph: string,
  caller: Caller = ANONYMOUS,
): Promise<Record<string, string>> {
  minter ??= loadOrCreateKeyPair('.data/keys', 'gateway').then((key) => new CredentialMinter(key));
  return { [CREDENTIAL_HEADER]: await (await minter).mint(caller, subgraph) };
}
