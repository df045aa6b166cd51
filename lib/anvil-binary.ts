import path from "node:path";

/**
 * The anvil binary of this platform's @foundry-rs package (installed by `npm ci` with @foundry-rs/anvil),
 * run directly: not through the package's node wrapper (node_modules/.bin/anvil), which costs a Node
 * start-up and does not pass a kill on to the node, leaving it running.
 */
export function anvilBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const name = `@foundry-rs/anvil-${process.platform}-${arch}`;
  try {
    const dir = path.dirname(require.resolve(`${name}/package.json`));
    return path.join(dir, "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
  } catch (error) {
    throw new Error(`anvil: ${name} is not installed (npm ci installs it with @foundry-rs/anvil)`, { cause: error });
  }
}
