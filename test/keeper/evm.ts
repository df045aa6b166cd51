/**
 * A real EVM for keeper tests that need a node's own rules (mempool replacement, nonces, revert
 * data): Hardhat's in-process EDR network, built from an explicit config (hardhat.config.ts is not
 * loaded, nothing is compiled), served over JSON-RPC HTTP on 127.0.0.1 so the code under test uses
 * a plain ethers JsonRpcProvider, as the keeper does. The test can take the endpoint down (every
 * request's connection is dropped) and bring it back, to act out an RPC outage.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { JsonRpcProvider, Network } from "ethers";
// Hardhat's own constructor for its in-process network; pinned with hardhat in package.json.
import { createHardhatNetworkProvider } from "hardhat/internal/hardhat-network/provider/provider";

export const EVM_CHAIN_ID = 31337;
export const FUNDED_KEYS = [`0x${"11".repeat(32)}`, `0x${"22".repeat(32)}`];
const INITIAL_BASE_FEE = 1_000_000_000;
const ONE_THOUSAND_ETH = (10n ** 21n).toString();

interface JsonRpcRequest {
  id: number | string | null;
  method: string;
  params?: unknown[];
}

export interface Evm {
  url: string;
  /** A JSON-RPC call straight to the node, past the HTTP endpoint (works while it is down). */
  rpc(method: string, params?: unknown[]): Promise<unknown>;
  /** An ethers provider on the HTTP endpoint, without caching, so every read reaches the node. */
  provider(): JsonRpcProvider;
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startEvm(): Promise<Evm> {
  const node = await createHardhatNetworkProvider(
    {
      hardfork: "cancun",
      chainId: EVM_CHAIN_ID,
      networkId: EVM_CHAIN_ID,
      blockGasLimit: 30_000_000,
      minGasPrice: 0n,
      automine: true,
      intervalMining: 0,
      mempoolOrder: "priority",
      chains: new Map(),
      genesisAccounts: FUNDED_KEYS.map((privateKey) => ({ privateKey, balance: ONE_THOUSAND_ETH })),
      allowUnlimitedContractSize: false,
      throwOnTransactionFailures: true,
      throwOnCallFailures: true,
      allowBlocksWithSameTimestamp: false,
      initialBaseFeePerGas: INITIAL_BASE_FEE,
      enableTransientStorage: false,
      enableRip7212: false,
    },
    { enabled: false },
  );
  const rpc = (method: string, params: unknown[] = []) => node.request({ method, params });

  const answer = async ({ id, method, params }: JsonRpcRequest) => {
    try {
      return { jsonrpc: "2.0", id, result: await rpc(method, params) };
    } catch (error) {
      const { code, message, data } = error as { code?: number; message: string; data?: unknown };
      return { jsonrpc: "2.0", id, error: { code: code ?? -32603, message, data } };
    }
  };

  let down = false;
  const server = http.createServer((request, response) => {
    if (down) {
      request.socket.destroy();
      return;
    }
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      const parsed = JSON.parse(body) as JsonRpcRequest | JsonRpcRequest[];
      const reply = Array.isArray(parsed) ? Promise.all(parsed.map(answer)) : answer(parsed);
      void reply.then((payload) => {
        response.writeHead(200, { "Content-Type": "application/json" });
        response.end(JSON.stringify(payload));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const providers: JsonRpcProvider[] = [];

  return {
    url,
    rpc,
    provider: () => {
      const network = Network.from(EVM_CHAIN_ID);
      const provider = new JsonRpcProvider(url, network, {
        staticNetwork: network,
        cacheTimeout: -1,
        batchMaxCount: 1,
      });
      providers.push(provider);
      return provider;
    },
    setDown: (value) => {
      down = value;
      if (value) server.closeAllConnections();
    },
    close: async () => {
      for (const provider of providers) provider.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
