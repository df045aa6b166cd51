/**
 * anvil (Foundry's node, from the @foundry-rs/anvil npm package) as an `Evm` for the keeper's tests:
 * a child process on a free port, driven over JSON-RPC HTTP like any node, with the methods a real
 * chain's faults need (anvil_reorg, anvil_rollback, anvil_reset). Its defaults are the operator's:
 * chain id 31337, ten funded accounts of the "test ... junk" mnemonic.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { JsonRpcProvider, Network } from "ethers";
import { anvilBinary } from "../../lib/anvil-binary";
import { EVM_CHAIN_ID } from "./evm";
import type { Evm } from "./evm";

const START_TIMEOUT_MS = 15_000;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Anvil extends Evm {
  /** The anvil process's id. */
  pid: number;
}

/** Starts anvil on a free port; resolves once it answers eth_chainId. */
export async function startAnvil(extraArgs: readonly string[] = []): Promise<Anvil> {
  const port = await freePort();
  const child: ChildProcess = spawn(anvilBinary(), ["--port", String(port), "--silent", ...extraArgs], {
    stdio: "ignore",
  });
  const url = `http://127.0.0.1:${port}`;
  const network = Network.from(EVM_CHAIN_ID);
  const providers: JsonRpcProvider[] = [];
  const provider = () => {
    const p = new JsonRpcProvider(url, network, { staticNetwork: network, cacheTimeout: -1, batchMaxCount: 1 });
    p.pollingInterval = 20;
    providers.push(p);
    return p;
  };
  const control = provider();
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      await control.send("eth_chainId", []);
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`anvil did not start on ${url}: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    pid: child.pid!,
    url,
    rpc: (method, params = []) => control.send(method, params),
    provider,
    setDown: () => {
      throw new Error("anvil cannot be taken down in place; put a TcpProxy in front of it");
    },
    close: async () => {
      for (const p of providers) p.destroy();
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
