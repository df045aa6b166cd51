/** Running the perp:* tasks in-process, as the task tests do: the result, the lines printed, a clean refusal. */
import { expect } from "chai";
import hre from "hardhat";
import { HardhatPluginError } from "hardhat/plugins";
import { setOutput } from "../../tasks/common";

/** Runs `perp:<name>` against the deployment record `file`; returns its result and the lines it printed. */
export async function runTask<T>(
  file: string,
  name: string,
  args: Record<string, unknown> = {},
): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const restore = setOutput((line) => lines.push(line));
  try {
    return { result: (await hre.run(`perp:${name}`, { deployment: file, ...args })) as T, lines };
  } finally {
    restore();
  }
}

/** The message of the clean (HardhatPluginError) failure a task stops with; fails the test if it succeeds. */
export async function refusal(pending: Promise<unknown>): Promise<string> {
  try {
    await pending;
  } catch (err) {
    expect(HardhatPluginError.isHardhatPluginError(err), `not a clean task error: ${err}`).to.equal(true);
    return (err as Error).message;
  }
  expect.fail("the task succeeded");
}
